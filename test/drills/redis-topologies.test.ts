import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Cluster, Redis } from "ioredis";
import { startRedisCluster, waitFor, type RedisCluster } from "../support/redis-cluster.js";
import { startRedisSentinel, type RedisSentinel } from "../support/redis-sentinel.js";

// Proves the topology helpers with ioredis' own Cluster and Sentinel clients, and prints (never asserts) how
// long each failover disturbs a client. Assertions are on states only.

const TIMEOUT = 90_000;
const hostPort = (s: string): { host: string; port: number } => {
  const [host = "", port = ""] = s.split(":");
  return { host, port: Number(port) };
};
const report = (what: string, values: Record<string, unknown>): void => console.log(`[redis-topologies] ${what} ${JSON.stringify(values)}`);
/** A plain connection to one server, bypassing Cluster/Sentinel routing; a call fails at once on a lost connection. */
const direct = (port: number): Redis => {
  const r = new Redis({ host: "127.0.0.1", port, retryStrategy: () => 50, maxRetriesPerRequest: 0 });
  r.on("error", () => undefined);
  return r;
};

/**
 * SET then `WAIT 1 1000` on the same connection: WAIT has no key, so only a pipeline sends it to the master
 * of the key's slot (alone, ioredis' Cluster sends it to a random master). Returns how many replicas acknowledged.
 */
async function setAndWait(client: Cluster, key: string): Promise<number> {
  const [[setErr], [waitErr, n]] = (await client.pipeline().set(key, "1").wait(1, 1_000).exec()) as [
    [Error | null],
    [Error | null, number],
  ];
  const err = setErr ?? waitErr;
  if (err === null) return n;
  // ioredis retries a pipeline on MOVED only when every command failed alike; here WAIT succeeded on the wrong
  // node, so the MOVED comes back as is and the slot map stays stale (no periodic refresh by default).
  if (/^(MOVED|CLUSTERDOWN)/.test(err.message)) client.refreshSlotsCache();
  throw err;
}

interface Outcome {
  i: number;
  start: number;
  end: number;
  ok: boolean;
  error?: string;
}

/** Runs `step(i)` one after another (a steady load) until stopped, recording every outcome. */
class Load {
  readonly outcomes: Outcome[] = [];
  private stopped = false;
  private readonly running: Promise<void>;

  constructor(private readonly step: (i: number) => Promise<unknown>) {
    this.running = this.run();
  }

  private async run(): Promise<void> {
    for (let i = 0; !this.stopped; i++) {
      const start = performance.now();
      try {
        await this.step(i);
        this.outcomes.push({ i, start, end: performance.now(), ok: true });
      } catch (err) {
        this.outcomes.push({
          i,
          start,
          end: performance.now(),
          ok: false,
          error: err instanceof Error ? err.message.slice(0, 80) : String(err),
        });
      }
      // Paces the load; not a wait for anything.
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.running;
  }

  acked(after = 0): Outcome[] {
    return this.outcomes.filter((o) => o.ok && o.start >= after);
  }

  /** How the load fared from `t0` on: failed calls, the longest wait between two acknowledgements, distinct errors. */
  summary(t0: number): Record<string, unknown> {
    const after = this.outcomes.filter((o) => o.end >= t0);
    const failed = after.filter((o) => !o.ok);
    let last = t0;
    let longestGapMs = 0;
    for (const o of after) {
      if (!o.ok) continue;
      longestGapMs = Math.max(longestGapMs, o.end - last);
      last = o.end;
    }
    const firstFail = failed[0];
    const lastFail = failed[failed.length - 1];
    return {
      calls: after.length,
      failed: failed.length,
      failingForMs: firstFail && lastFail ? Math.round(lastFail.end - firstFail.start) : 0,
      longestGapMs: Math.round(longestGapMs),
      errors: [...new Set(failed.map((o) => o.error))].slice(0, 4),
    };
  }
}

describe("redis cluster helper (3 masters, 3 replicas) with ioredis' Cluster client", () => {
  let cluster: RedisCluster;
  let client: Cluster & { pair: (a: string, b: string, v: string) => Promise<[string, string]> };
  /** One hash tag per master: tags[0] is "bot1". */
  const tags: string[] = [];

  beforeAll(async () => {
    const started = performance.now();
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    report("cluster started", { ms: Math.round(performance.now() - started), nodes: cluster.nodes });
    client = new Cluster(cluster.seeds.map(hostPort)) as typeof client;
    client.on("error", () => undefined);
    client.defineCommand("pair", {
      numberOfKeys: 2,
      lua: "local t = redis.call('TIME') redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[1]) return {redis.call('GET', KEYS[2]), t[1]}",
    });
    const owners = new Set<number>();
    for (let n = 1; tags.length < 3; n++) {
      const owner = await cluster.masterOf(`{bot${n}}`);
      if (!owners.has(owner)) {
        owners.add(owner);
        tags.push(`bot${n}`);
      }
    }
  }, TIMEOUT);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  }, TIMEOUT);

  it(
    "reads and writes on every master, runs a hash-tagged script and refuses a cross-slot one",
    async () => {
      expect(cluster.nodes.filter((n) => n.role === "master")).toHaveLength(3);
      expect(cluster.nodes.filter((n) => n.role === "replica")).toHaveLength(3);
      for (const tag of tags) {
        await client.set(`{${tag}}:k`, tag);
        expect(await client.get(`{${tag}}:k`)).toBe(tag);
      }
      const [value, seconds] = await client.pair("{bot1}:session:1", "{bot1}:journal", "v1");
      expect(value).toBe("v1");
      expect(Number(seconds)).toBeGreaterThan(1_600_000_000); // TIME before a write is allowed in a Redis 7 script
      await expect(client.pair("{bot1}:session:1", "{bot2}:journal", "v2")).rejects.toThrow(/CROSSSLOT/);
      expect(await setAndWait(client, "{bot1}:w")).toBe(1);
      // A flushed script cache: EVALSHA gets NOSCRIPT and ioredis resends the script as EVAL on the same slot.
      for (const n of cluster.nodes) {
        const node = direct(n.port);
        await node.call("SCRIPT", "FLUSH").finally(() => node.disconnect());
      }
      expect((await client.pair("{bot1}:a", "{bot1}:b", "v3"))[0]).toBe("v3");
    },
    TIMEOUT,
  );

  it(
    "rides through a manual CLUSTER FAILOVER with no acknowledged write lost",
    async () => {
      const oldMaster = await cluster.masterOf("{bot1}");
      const [replica] = await cluster.replicasOf(oldMaster);
      if (replica === undefined) throw new Error("no replica of the {bot1} master");
      await client.del("{bot1}:counter");
      const load = new Load(() => client.incr("{bot1}:counter"));
      await waitFor("the load to run", async () => load.acked().length > 20);
      const t0 = performance.now();
      await cluster.failover(replica);
      const promotedMs = Math.round(performance.now() - t0);
      const t1 = performance.now();
      await waitFor("writes after the failover", async () => load.acked(t1).length > 10);
      await load.stop();
      report("CLUSTER FAILOVER", { promotedAndAgreedMs: promotedMs, load: load.summary(t0) });
      expect(await cluster.masterOf("{bot1}")).toBe(replica);
      expect(cluster.nodes.find((n) => n.port === oldMaster)?.role).toBe("replica");
      // Every acknowledged INCR is there (a failed call may still have been applied, so at least as many).
      expect(Number(await client.get("{bot1}:counter"))).toBeGreaterThanOrEqual(load.acked().length);
    },
    TIMEOUT,
  );

  it(
    "rides through a SIGKILLed master: every shard refuses writes for a while, WAIT 1 comes back once it has a replica",
    async () => {
      const loads = tags.map((tag) => new Load((i) => client.set(`{${tag}}:kill:${i}`, String(i))));
      let waitOk = 0;
      const waits = new Load(async (i) => {
        const sent = performance.now();
        if ((await setAndWait(client, `{bot1}:wait:${i}`)) >= 1) waitOk = sent;
      });
      const survivorTag = tags[1] ?? "bot2";
      const survivor = direct(await cluster.masterOf(`{${survivorTag}}`));
      const raw = new Load(() => survivor.set(`{${survivorTag}}:raw`, "1"));
      await waitFor("the loads to run", async () => loads.every((l) => l.acked().length > 10) && waitOk > 0);

      const killed = await cluster.killMaster("{bot1}");
      const t0 = performance.now(); // the process is gone
      // Every shard answers writes again once a replica took over the killed master's slots.
      await waitFor(
        "every shard to take writes again",
        async () => {
          const now = performance.now();
          return (
            (
              await Promise.all(
                tags.map((t) =>
                  client.set(`{${t}}:probe`, "1").then(
                    () => true,
                    () => false,
                  ),
                ),
              )
            ).every(Boolean) && now
          );
        },
        60_000,
      );
      const writableMs = Math.round(performance.now() - t0);
      const newMaster = await cluster.masterOf("{bot1}");
      expect(newMaster).not.toBe(killed);
      // The new master has no replica until the killed node comes back (as a supervisor would restart it).
      const restartAt = performance.now();
      await cluster.restartNode(killed);
      const rejoinedMs = Math.round(performance.now() - restartAt);
      await waitFor("WAIT 1 to be met on the new master", async () => waitOk > restartAt, 30_000);
      await Promise.all([...loads, waits, raw].map((l) => l.stop()));
      survivor.disconnect();

      const victimAcked = loads[0]?.acked() ?? [];
      const victimValues = await client.mget(victimAcked.map((o) => `{bot1}:kill:${o.i}`));
      report("SIGKILL of a cluster master", {
        killedPort: killed,
        killedShardAckedButLost: victimValues.filter((v) => v === null).length,
        allShardsWritableAgainMs: writableMs,
        survivingShardRawRefusal: raw.summary(t0),
        clientLoadPerShard: loads.map((l, i) => ({ tag: tags[i], ...l.summary(t0) })),
        restartedAfterMs: Math.round(restartAt - t0),
        rejoinedAsReplicaMs: rejoinedMs,
        wait1MetAgainAfterKillMs: Math.round(waitOk - t0),
        wait1MetAgainAfterRestartMs: Math.round(waitOk - restartAt),
      });
      expect(raw.outcomes.some((o) => o.end > t0 && o.error?.startsWith("CLUSTERDOWN"))).toBe(true);
      expect(cluster.nodes.find((n) => n.port === killed)?.role).toBe("replica");
      expect(await cluster.replicasOf(newMaster)).toEqual([killed]);
      // Writes acknowledged by the surviving shards are all readable.
      for (const [n, tag] of tags.entries()) {
        if (n === 0) continue;
        const acked = loads[n]?.acked() ?? [];
        const values = await client.mget(acked.map((o) => `{${tag}}:kill:${o.i}`));
        expect(values.filter((v) => v === null)).toEqual([]);
      }
    },
    TIMEOUT,
  );
});

describe("redis cluster helper with a spare replica (3 masters, 4 replicas)", () => {
  let cluster: RedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, spareReplicas: 1 });
    client = new Cluster(cluster.seeds.map(hostPort));
    client.on("error", () => undefined);
  }, TIMEOUT);

  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  }, TIMEOUT);

  it(
    "after a SIGKILLed master, replica migration gives the promoted replica a replica of its own: WAIT 1 is met again",
    async () => {
      const masters = cluster.nodes.filter((n) => n.role === "master");
      const counts = await Promise.all(masters.map((m) => cluster.replicasOf(m.port)));
      expect(counts.map((r) => r.length).sort()).toEqual([1, 1, 2]);
      const donor = masters[counts.findIndex((r) => r.length === 2)]?.port;
      let tag = "";
      for (let n = 1; tag === ""; n++) if ((await cluster.masterOf(`{bot${n}}`)) !== donor) tag = `bot${n}`;
      let waitOk = 0;
      const waits = new Load(async (i) => {
        const sent = performance.now();
        if ((await setAndWait(client, `{${tag}}:wait:${i}`)) >= 1) waitOk = sent;
      });
      await waitFor("WAIT 1 to be met", async () => waitOk > 0);
      const killed = await cluster.killMaster(`{${tag}}`);
      const t0 = performance.now(); // the process is gone
      await waitFor("WAIT 1 to be met on the new master", async () => waitOk > t0, 60_000).catch(async (err: unknown) => {
        await waits.stop();
        report("replica migration did not happen", {
          load: waits.summary(t0),
          replicas: await cluster.replicasOf(await cluster.masterOf(`{${tag}}`)),
        });
        throw err;
      });
      await waits.stop();
      await cluster.waitHealthy();
      const newMaster = await cluster.masterOf(`{${tag}}`);
      report("SIGKILL of a cluster master with a spare replica", {
        killedPort: killed,
        wait1MetAgainAfterKillMs: Math.round(waitOk - t0),
        load: waits.summary(t0),
      });
      expect(newMaster).not.toBe(killed);
      expect(await cluster.replicasOf(newMaster)).toHaveLength(1);
      expect(donor === undefined ? [] : await cluster.replicasOf(donor)).toHaveLength(1);
    },
    TIMEOUT,
  );
});

describe("redis sentinel helper (master, replica, 3 sentinels) with ioredis' Sentinel client", () => {
  let deployment: RedisSentinel;
  const clients: Redis[] = [];
  const sentinelClient = (extra: Record<string, unknown> = {}): Redis => {
    const c = new Redis({ sentinels: deployment.sentinels.map(hostPort), name: deployment.name, ...extra });
    c.on("error", () => undefined);
    clients.push(c);
    return c;
  };
  const servedBy = async (c: Redis): Promise<number> => Number(/^tcp_port:(\d+)/m.exec(await c.info("server"))?.[1]);

  beforeAll(async () => {
    const started = performance.now();
    deployment = await startRedisSentinel({ name: "mymaster" });
    report("sentinel deployment started", { ms: Math.round(performance.now() - started), sentinels: deployment.sentinels });
  }, TIMEOUT);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await deployment?.stop();
  }, TIMEOUT);

  it(
    "SENTINEL FAILOVER: clients follow the new master; the old master takes writes that are then thrown away",
    async () => {
      const plain = sentinelClient();
      const detecting = sentinelClient({ failoverDetector: true });
      await plain.set("s:k", "v");
      expect(await plain.get("s:k")).toBe("v");
      const oldMaster = deployment.masterPort();
      expect(await servedBy(plain)).toBe(oldMaster);
      expect(await servedBy(detecting)).toBe(oldMaster);

      const loads = {
        plain: new Load((i) => plain.set(`plain:${i}`, "1")),
        detecting: new Load((i) => detecting.set(`detecting:${i}`, "1")),
      };
      const probe = direct(oldMaster);
      const probeLoad = new Load((i) => probe.set(`probe:${i}`, "1"));
      await waitFor("the loads to run", async () => Object.values(loads).every((l) => l.acked().length > 10));

      const t0 = performance.now();
      const { from, to } = await deployment.failover();
      const promotedMs = Math.round(performance.now() - t0);
      const promotedAt = performance.now();
      await deployment.waitSettled();
      const settledMs = Math.round(performance.now() - t0);
      const t1 = performance.now();
      await waitFor("both clients to write after the old master was demoted", async () =>
        Object.values(loads).every((l) => l.acked(t1).length > 5),
      );
      await Promise.all([...Object.values(loads), probeLoad].map((l) => l.stop()));
      probe.disconnect();

      const onNew = direct(to);
      await waitFor("a connection to the new master", async () => onNew.status === "ready");
      const lost = async (prefix: string, load: Load): Promise<Outcome[]> => {
        const acked = load.acked(t0);
        const exists = await onNew.mget(acked.map((o) => `${prefix}:${o.i}`));
        return acked.filter((_, n) => exists[n] === null);
      };
      const lostProbe = await lost("probe", probeLoad);
      const acceptedAfterPromotion = probeLoad.acked(promotedAt);
      const lastOldMasterAck = probeLoad.acked(t0).at(-1)?.end ?? t0;
      const perClient: Record<string, unknown> = {};
      for (const [name, load] of Object.entries(loads)) {
        const gone = await lost(name, load);
        perClient[name] = { ...load.summary(t0), ackedButLost: gone.length, lostWritesUntilMs: Math.round((gone.at(-1)?.end ?? t0) - t0) };
      }
      report("SENTINEL FAILOVER", {
        from,
        to,
        sentinelsAgreeMs: promotedMs,
        oldMasterDemotedAndSyncedMs: settledMs,
        oldMasterAcceptedWritesForMs: Math.round(lastOldMasterAck - t0),
        oldMasterAckedAfterPromotion: acceptedAfterPromotion.length,
        directProbeAckedButLost: lostProbe.length,
        clients: perClient,
      });
      onNew.disconnect();
      expect(from).toBe(oldMaster);
      expect(to).not.toBe(oldMaster);
      expect(deployment.replicaPort()).toBe(oldMaster);
      // Split brain: the old master acknowledged writes after the new one was promoted, and they are gone.
      expect(acceptedAfterPromotion.length).toBeGreaterThan(0);
      expect(lostProbe.length).toBeGreaterThan(0);
      expect(await servedBy(plain)).toBe(to);
      expect(await servedBy(detecting)).toBe(to);
    },
    TIMEOUT,
  );

  it(
    "SIGKILL of the master: the sentinels promote the replica, the client reconnects, the killed node rejoins",
    async () => {
      const c = sentinelClient();
      await c.set("kill:before", "1");
      const load = new Load((i) => c.set(`kill:${i}`, "1"));
      await waitFor("the load to run", async () => load.acked().length > 10);
      const killed = await deployment.killMaster();
      const t0 = performance.now(); // the process is gone
      const newMaster = await deployment.waitForNewMaster(killed);
      const promotedMs = Math.round(performance.now() - t0);
      const t1 = performance.now();
      await waitFor("writes on the new master", async () => load.acked(t1).length > 5, 30_000);
      const restartAt = performance.now();
      await deployment.restart(killed);
      await deployment.waitSettled();
      const rejoinedMs = Math.round(performance.now() - restartAt);
      await load.stop();
      const values = await c.mget(load.acked().map((o) => `kill:${o.i}`));
      report("SIGKILL of the sentinel master", {
        killed,
        newMaster,
        sentinelsAgreeMs: promotedMs,
        rejoinedAsReplicaMs: rejoinedMs,
        ackedButLost: values.filter((v) => v === null).length,
        load: load.summary(t0),
      });
      expect(newMaster).not.toBe(killed);
      expect(deployment.replicaPort()).toBe(killed);
      expect(await servedBy(c)).toBe(newMaster);
      expect(await c.get("kill:before")).toBe("1");
    },
    TIMEOUT,
  );
});
