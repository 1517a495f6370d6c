import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A throw-away `redis-server` with persistence off, on a free loopback port. */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Process id of the server (to pause it with SIGSTOP, say). */
  readonly pid: number;
  /** Its working directory (where an AOF is kept, with `--appendonly yes`). */
  readonly dir: string;
  /** Kills the server with SIGKILL and keeps its directory (to start it again from its AOF with `dir`). */
  kill(): Promise<void>;
  /** Stops the server (SIGKILL after a short grace) and removes its directory; idempotent. */
  stop(): Promise<void>;
}

/** The one-line message printed when `redis-server` is missing. */
export const REDIS_MISSING =
  "redis-server is not installed: the tests need a real Redis. Install it with `apt-get install -y redis-server` (or put redis-server on PATH).";

/** Finds a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when `redis-server` can be executed. */
export function hasRedisServer(): boolean {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return probe.error === undefined && probe.status === 0;
}

/**
 * Starts a fresh `redis-server` and resolves once it accepts connections. With `o.dir` it works in that directory
 * (a server killed with `kill()` starts again from its AOF there).
 */
export async function startRedisServer(fixedPort?: number, extraArgs: string[] = [], o: { dir?: string } = {}): Promise<RedisServer> {
  if (!hasRedisServer()) throw new Error(REDIS_MISSING);
  const port = fixedPort ?? (await freePort());
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "bot-host-redis-"));
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "", ...extraArgs],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${port}: ${out}`)), 10_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
  child.stdout?.removeAllListeners("data");
  child.stderr?.removeAllListeners("data");
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    dir,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      // (a server that already exited, also by a signal, is not waited for: a second stop returns at once)
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT");
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
