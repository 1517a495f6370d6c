import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, hasRedisServer, REDIS_MISSING } from "./redis-server.js";

// Shared by this file and redis-sentinel.ts: real redis-server processes, admin connections and polling.

const HOST = "127.0.0.1";
const started = new Set<RedisProcess>();
// A worker that exits, or is stopped with a signal (vitest ends a timed-out fork with SIGTERM, which skips
// "exit" handlers), must not leave servers or directories behind.
const cleanup = (): void => {
  for (const p of started) p.killNow();
};
process.once("exit", cleanup);
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    cleanup();
    // Keep the signal's default (exit) unless someone else handles it.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/** One `redis-server` process (a data node or a sentinel) in a temp directory of its own. */
export class RedisProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly args: readonly string[],
  ) {}

  /**
   * Starts `redis-server ...args(dir)` in a fresh temp directory and waits for PING. The arguments (or the
   * config file they name) must set the port and write the log to `redis.log` in `dir`.
   */
  static async start(port: number, args: (dir: string) => readonly string[]): Promise<RedisProcess> {
    if (!hasRedisServer()) throw new Error(REDIS_MISSING);
    const dir = mkdtempSync(join(tmpdir(), "bot-host-redis-"));
    const p = new RedisProcess(port, dir, args(dir));
    started.add(p);
    await p.launch();
    return p;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process again with the same arguments and directory (a killed node coming back). */
  async launch(): Promise<void> {
    if (this.alive) return;
    const child = spawn("redis-server", [...this.args], { cwd: this.dir, stdio: "ignore" });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const probe = new Redis({ host: HOST, port: this.port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on("error", () => undefined);
    try {
      await waitFor(
        `redis-server on port ${this.port} to answer PING`,
        async () => {
          if (!this.alive) throw new Error(`redis-server on port ${this.port} exited: ${this.logTail()}`);
          try {
            if (probe.status !== "ready") await probe.connect();
            return (await probe.ping()) === "PONG";
          } catch {
            probe.disconnect();
            return false;
          }
        },
        15_000,
      );
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILLs the process and waits until it is gone (its port is closed then). */
  async kill(): Promise<void> {
    if (this.alive) {
      this.child?.kill("SIGCONT");
      this.child?.kill("SIGKILL");
    }
    await this.exited;
  }

  /** Kills the process and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
    started.delete(this);
  }

  /** Synchronous last-resort cleanup (process exit). */
  killNow(): void {
    if (this.alive) this.child?.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The end of the server's log file, for error messages. */
  logTail(): string {
    try {
      return readFileSync(join(this.dir, "redis.log"), "utf8").split("\n").slice(-8).join("\n");
    } catch {
      return "(no log)";
    }
  }
}

/** Polls `probe` every `intervalMs` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
      if (err instanceof Error && err.message.includes("exited:")) throw err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Cached admin connections by port: fail fast (no offline queue) so a poll of a dead node just fails. */
export class AdminClients {
  private readonly clients = new Map<number, Redis>();

  get(port: number): Redis {
    let c = this.clients.get(port);
    if (c === undefined) {
      c = new Redis({
        host: HOST,
        port,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        commandTimeout: 2_000,
        retryStrategy: () => 100,
      });
      c.on("error", () => undefined);
      this.clients.set(port, c);
    }
    return c;
  }

  /** Runs one raw command on the server at `port`. */
  async call(port: number, ...args: (string | number)[]): Promise<unknown> {
    const c = this.get(port);
    if (c.status !== "ready") await waitFor(`admin connection to ${port}`, async () => c.status === "ready", 5_000, 20);
    const [name, ...rest] = args;
    return c.call(String(name), ...rest);
  }

  /** One field of `INFO <section>` on `port`. */
  async info(port: number, section: string, field: string): Promise<string | undefined> {
    const text = String(await this.call(port, "INFO", section));
    return new RegExp(`^${field}:(.*?)\\r?$`, "m").exec(text)?.[1];
  }

  close(): void {
    for (const c of this.clients.values()) c.disconnect();
    this.clients.clear();
  }
}

/** Two distinct free loopback ports per requested one: the client port and (for cluster nodes) the bus port. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Arguments every test data node gets: loopback only, no persistence, replicas synced without delay. */
export function dataNodeArgs(port: number, dir: string): string[] {
  // repl-diskless-sync-delay defaults to 5 s: every (re)sync of a replica would wait that long.
  return [
    "--port",
    String(port),
    "--bind",
    HOST,
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--logfile",
    join(dir, "redis.log"),
    "--daemonize",
    "no",
    "--repl-diskless-sync-delay",
    "0",
  ];
}

/** Options of {@link startRedisCluster}. */
export interface ClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** Replicas beyond `replicasPerMaster`; redis-cli gives them to some masters, so a master left without replicas can get one by replica migration. */
  spareReplicas?: number;
  /** `cluster-node-timeout` in ms (default 2000; Redis' own default is 15000). */
  nodeTimeoutMs?: number;
}

/** A node of the cluster; `role` is updated by the helper's methods (`down` = killed). */
export interface ClusterNode {
  readonly host: string;
  readonly port: number;
  pid: number;
  role: "master" | "replica" | "down";
}

/** A running Redis Cluster of real `redis-server` processes. */
export interface RedisCluster {
  readonly nodes: readonly ClusterNode[];
  /** Seed nodes for a client, as "host:port". */
  readonly seeds: string[];
  /** Port of the master serving `key`. */
  masterOf(key: string): Promise<number>;
  /** Ports of the live replicas of the master at `masterPort`. */
  replicasOf(masterPort: number): Promise<number[]>;
  /** SIGKILLs the master serving a slot (number) or key (string); returns its port. Does not wait for the failover. */
  killMaster(slotOrKey: number | string): Promise<number>;
  /** Runs CLUSTER FAILOVER on a replica and waits until it is master and every node agrees. */
  failover(replicaPort: number): Promise<void>;
  /** Starts a killed node again (same nodes.conf, no data) and waits until it has rejoined as a synced replica. */
  restartNode(port: number): Promise<void>;
  /** Waits until every live node reports cluster_state:ok, all slots served by live masters, all agree, replicas synced. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes their directories. */
  stop(): Promise<void>;
}

interface NodeView {
  id: string;
  port: number;
  flags: string[];
  masterId: string;
  slots: string[];
}

function parseNodes(text: string): NodeView[] {
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const [id = "", addr = "", flags = "", masterId = "", , , , , ...slots] = line.trim().split(" ");
      return {
        id,
        port: Number(/:(\d+)@/.exec(addr)?.[1]),
        flags: flags.split(","),
        masterId,
        slots: slots.filter((s) => !s.startsWith("[")),
      };
    });
}

/** Starts a cluster with `redis-cli --cluster create` and waits until it is usable. */
export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisCluster> {
  const { masters = 3, replicasPerMaster = 1, spareReplicas = 0, nodeTimeoutMs = 2_000 } = options;
  const count = masters * (replicasPerMaster + 1) + spareReplicas;
  const ports = await freePorts(count * 2);
  const procs: RedisProcess[] = [];
  const admin = new AdminClients();
  const stop = async (): Promise<void> => {
    admin.close();
    await Promise.all(procs.map((p) => p.stop()));
  };
  try {
    for (let i = 0; i < count; i++) {
      const [port = 0, bus = 0] = ports.slice(i * 2, i * 2 + 2);
      procs.push(
        await RedisProcess.start(port, (dir) => [
          ...dataNodeArgs(port, dir),
          "--cluster-enabled",
          "yes",
          "--cluster-port",
          String(bus),
          "--cluster-config-file",
          join(dir, "nodes.conf"),
          "--cluster-node-timeout",
          String(nodeTimeoutMs),
        ]),
      );
    }
    await run("redis-cli", [
      "--cluster",
      "create",
      ...procs.map((p) => `${HOST}:${p.port}`),
      "--cluster-replicas",
      String(replicasPerMaster),
      "--cluster-yes",
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes: ClusterNode[] = procs.map((p) => ({ host: HOST, port: p.port, pid: p.pid, role: "master" }));
  const proc = (port: number): RedisProcess => {
    const p = procs.find((x) => x.port === port);
    if (p === undefined) throw new Error(`no cluster node on port ${port}`);
    return p;
  };
  const live = (): RedisProcess[] => procs.filter((p) => p.alive);
  const view = async (port: number): Promise<NodeView[]> => parseNodes(String(await admin.call(port, "CLUSTER", "NODES")));

  /** Undefined unless the whole cluster is healthy; then the agreed layout. */
  const healthy = async (): Promise<NodeView[] | undefined> => {
    let agreed: string | undefined;
    let layout: NodeView[] = [];
    for (const p of live()) {
      const info = String(await admin.call(p.port, "CLUSTER", "INFO"));
      if (!info.includes("cluster_state:ok") || !info.includes("cluster_slots_ok:16384")) return undefined;
      const v = await view(p.port);
      const byId = new Map(v.map((n) => [n.id, n]));
      const sig = v
        .filter((n) => live().some((l) => l.port === n.port))
        .map((n) => (n.flags.includes("master") ? `${n.port}=${n.slots.join(",")}` : `${n.port}->${byId.get(n.masterId)?.port}`))
        .sort()
        .join(" ");
      if (v.some((n) => n.slots.length > 0 && !live().some((l) => l.port === n.port))) return undefined;
      if (agreed !== undefined && sig !== agreed) return undefined;
      agreed = sig;
      layout = v;
      const me = v.find((n) => n.flags.includes("myself"));
      if (me?.flags.includes("slave") && (await admin.info(p.port, "replication", "master_link_status")) !== "up") return undefined;
    }
    return layout;
  };
  const waitHealthy = async (timeoutMs = 60_000): Promise<void> => {
    const layout = await waitFor("the cluster to be healthy", healthy, timeoutMs);
    for (const n of nodes) {
      const v = layout.find((x) => x.port === n.port);
      n.role = !proc(n.port).alive ? "down" : v?.flags.includes("master") ? "master" : "replica";
      n.pid = proc(n.port).pid;
    }
  };
  const slotOf = async (slotOrKey: number | string): Promise<number> =>
    typeof slotOrKey === "number" ? slotOrKey : Number(await admin.call(live()[0]?.port ?? 0, "CLUSTER", "KEYSLOT", slotOrKey));
  const ownerOf = async (slot: number): Promise<number> => {
    for (const p of live()) {
      const owner = (await view(p.port)).find(
        (n) =>
          n.flags.includes("master") &&
          n.slots.some((r) => {
            const [a = -1, b = a] = r.split("-").map(Number);
            return slot >= a && slot <= b;
          }),
      );
      if (owner !== undefined && owner.flags.includes("myself")) return owner.port;
      if (owner !== undefined && proc(owner.port).alive) return owner.port;
    }
    throw new Error(`no live master serves slot ${slot}`);
  };

  try {
    await waitHealthy();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    seeds: procs.map((p) => `${HOST}:${p.port}`),
    masterOf: async (key) => ownerOf(await slotOf(key)),
    async replicasOf(masterPort) {
      const v = await view(masterPort);
      const id = v.find((n) => n.flags.includes("myself"))?.id;
      return v.filter((n) => n.masterId === id && proc(n.port).alive).map((n) => n.port);
    },
    async killMaster(slotOrKey) {
      const port = await ownerOf(await slotOf(slotOrKey));
      await proc(port).kill();
      const node = nodes.find((n) => n.port === port);
      if (node !== undefined) node.role = "down";
      return port;
    },
    async failover(replicaPort) {
      await admin.call(replicaPort, "CLUSTER", "FAILOVER");
      await waitFor(
        `node ${replicaPort} to become master`,
        async () => ((await admin.call(replicaPort, "ROLE")) as unknown[])[0] === "master",
        30_000,
      );
      await waitHealthy();
    },
    async restartNode(port) {
      await proc(port).launch();
      await waitHealthy();
    },
    waitHealthy,
    stop,
  };
}

/** Runs a command to completion; rejects with its output when it fails. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(" ")} failed (${code}):\n${out.slice(-2000)}`));
    });
  });
}
