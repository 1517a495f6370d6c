import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AdminClients, dataNodeArgs, freePorts, RedisProcess, waitFor } from "./redis-cluster.js";

const HOST = "127.0.0.1";

/** Options of {@link startRedisSentinel}. */
export interface SentinelOptions {
  /** The monitored master's name (default "mymaster"). */
  name?: string;
  /** `sentinel down-after-milliseconds` (default 1000). */
  downAfterMs?: number;
  /** `sentinel failover-timeout` (default 5000). */
  failoverTimeoutMs?: number;
}

/** A master, one replica and three sentinels (quorum 2), all real `redis-server` processes. */
export interface RedisSentinel {
  /** The sentinels, as "host:port". */
  readonly sentinels: string[];
  readonly name: string;
  /** Port of the current master, as the helper last confirmed it. */
  masterPort(): number;
  /** Port of the live data node that is not the master (throws when there is none). */
  replicaPort(): number;
  /**
   * Runs SENTINEL FAILOVER (after waiting for a replica the sentinels deem good) and resolves once every
   * sentinel names the new master and it reports role master. The old master is not demoted yet then: see
   * {@link RedisSentinel.waitSettled}.
   */
  failover(): Promise<{ from: number; to: number }>;
  /** SIGKILLs the master; returns its port. Does not wait for the failover: see {@link RedisSentinel.waitForNewMaster}. */
  killMaster(): Promise<number>;
  /** Waits until every sentinel names a master other than `oldPort` and it reports role master; returns its port. */
  waitForNewMaster(oldPort: number): Promise<number>;
  /** Starts a killed data node again, as a replica of the current master (it has no data). */
  restart(port: number): Promise<void>;
  /** Waits until the other live data node is a synced replica of the master and every sentinel sees it and the other two sentinels. */
  waitSettled(timeoutMs?: number): Promise<void>;
  /** Kills every process and removes their directories. */
  stop(): Promise<void>;
}

type Fields = Record<string, string>;
const fields = (reply: unknown): Fields => {
  const flat = reply as string[];
  const out: Fields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] ?? ""] = flat[i + 1] ?? "";
  return out;
};

/** Starts the deployment and waits until the sentinels know the master, the replica and each other. */
export async function startRedisSentinel(options: SentinelOptions = {}): Promise<RedisSentinel> {
  const { name = "mymaster", downAfterMs = 1_000, failoverTimeoutMs = 5_000 } = options;
  const [mPort = 0, rPort = 0, ...sPorts] = await freePorts(5);
  const data: RedisProcess[] = [];
  const sentinels: RedisProcess[] = [];
  const admin = new AdminClients();
  let master = mPort;
  const stop = async (): Promise<void> => {
    admin.close();
    await Promise.all([...data, ...sentinels].map((p) => p.stop()));
  };
  const dataNode = (port: number): RedisProcess => {
    const p = data.find((x) => x.port === port);
    if (p === undefined) throw new Error(`no data node on port ${port}`);
    return p;
  };
  const role = async (port: number): Promise<string> => String(((await admin.call(port, "ROLE")) as unknown[])[0]);
  const sentinelCall = (s: RedisProcess, ...args: string[]): Promise<unknown> => admin.call(s.port, "SENTINEL", ...args);

  const settled = async (): Promise<boolean> => {
    const replica = data.find((p) => p.port !== master && p.alive);
    if (replica === undefined || (await role(master)) !== "master") return false;
    if ((await admin.info(replica.port, "replication", "master_port")) !== String(master)) return false;
    if ((await admin.info(replica.port, "replication", "master_link_status")) !== "up") return false;
    for (const s of sentinels) {
      const m = fields(await sentinelCall(s, "MASTER", name));
      if (m.port !== String(master) || m.flags !== "master" || m["num-other-sentinels"] !== "2") return false;
      // Only the flags: a sentinel refreshes a replica's INFO every 10 s, so its link status lags that long.
      const good = ((await sentinelCall(s, "REPLICAS", name)) as unknown[])
        .map(fields)
        .some((r) => r.port === String(replica.port) && r.flags === "slave");
      if (!good) return false;
      if (((await sentinelCall(s, "SENTINELS", name)) as unknown[]).length !== 2) return false;
    }
    return true;
  };
  /** What the sentinels see, and the end of their logs: for the message of a wait that timed out. */
  const diagnose = async (err: unknown): Promise<never> => {
    const views = await Promise.all(
      sentinels.map(async (s) => {
        const view = await Promise.all([sentinelCall(s, "MASTER", name), sentinelCall(s, "REPLICAS", name)]).then(
          ([m, r]) => {
            const f = fields(m);
            return `master ${f.port} ${f.flags}; replicas ${(r as unknown[])
              .map(fields)
              .map((x) => `${x.port} ${x.flags}`)
              .join(", ")}`;
          },
          (e: unknown) => String(e),
        );
        return `sentinel ${s.port}: ${view}\n${s.logTail()}`;
      }),
    );
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${views.join("\n")}`);
  };
  const waitSettled = async (timeoutMs = 60_000): Promise<void> => {
    await waitFor("the sentinels to see a synced replica and each other", settled, timeoutMs, 100).catch(diagnose);
  };
  const waitForNewMaster = async (oldPort: number): Promise<number> => {
    const port = await waitFor(
      `the sentinels to name a master other than ${oldPort}`,
      async () => {
        const named = new Set<string>();
        for (const s of sentinels) named.add(String(((await sentinelCall(s, "GET-MASTER-ADDR-BY-NAME", name)) as string[])[1]));
        const [only] = [...named];
        if (named.size !== 1 || only === String(oldPort)) return undefined;
        return (await role(Number(only))) === "master" ? Number(only) : undefined;
      },
      60_000,
    ).catch(diagnose);
    master = port;
    return port;
  };

  try {
    data.push(await RedisProcess.start(mPort, (dir) => dataNodeArgs(mPort, dir)));
    data.push(await RedisProcess.start(rPort, (dir) => [...dataNodeArgs(rPort, dir), "--replicaof", HOST, String(mPort)]));
    await waitFor("the replica to sync", async () => (await admin.info(rPort, "replication", "master_link_status")) === "up");
    for (const port of sPorts) {
      sentinels.push(
        await RedisProcess.start(port, (dir) => {
          const conf = join(dir, "sentinel.conf");
          writeFileSync(
            conf,
            [
              `port ${port}`,
              `bind ${HOST}`,
              `dir ${dir}`,
              `logfile ${join(dir, "redis.log")}`,
              `sentinel monitor ${name} ${HOST} ${mPort} 2`,
              `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
              `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
              "",
            ].join("\n"),
          );
          return [conf, "--sentinel"];
        }),
      );
    }
    await waitSettled();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    sentinels: sentinels.map((s) => `${HOST}:${s.port}`),
    name,
    masterPort: () => master,
    replicaPort() {
      const r = data.find((p) => p.port !== master && p.alive);
      if (r === undefined) throw new Error("no live replica");
      return r.port;
    },
    async failover() {
      const from = master;
      await waitSettled();
      const [first] = sentinels;
      if (first === undefined) throw new Error("no sentinel");
      await sentinelCall(first, "FAILOVER", name);
      return { from, to: await waitForNewMaster(from) };
    },
    async killMaster() {
      const port = master;
      await dataNode(port).kill();
      return port;
    },
    waitForNewMaster,
    async restart(port) {
      const node = dataNode(port);
      await node.launch();
      await admin.call(port, "REPLICAOF", HOST, master);
    },
    waitSettled,
    stop,
  };
}
