// The parent's handle on one side (bench/lib/worker.mjs in a child process); see the protocol there.
import { fork } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PROFILE_DIR, ROOT } from "./common.mjs";

const WORKER = join(ROOT, "bench/lib/worker.mjs");
const CLI = join(ROOT, "dist/src/cli/main.js");
const CLI_PROBE = join(ROOT, "bench/lib/cli-probe.mjs");

/**
 * Forks a worker. `profile` names a .cpuprofile written to bench/profiles/ when the child exits;
 * `exposeGc` lets stats({ gc: true }) collect before measuring.
 */
export function spawnSide(side, { profile, exposeGc = false } = {}) {
  // BENCH_HOST_NODE_OPTIONS: extra V8/Node flags for the host side only (tuning experiments).
  const execArgv = side === "host" && process.env.BENCH_HOST_NODE_OPTIONS ? process.env.BENCH_HOST_NODE_OPTIONS.split(" ") : [];
  if (exposeGc) execArgv.push("--expose-gc");
  if (profile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    execArgv.push("--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${profile}.cpuprofile`);
  }
  const child = fork(WORKER, [], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const pending = new Map();
  let nextId = 1;
  const lostOf = new Map();
  child.on("message", (msg) => {
    if (msg.type === "lost") {
      lostOf.set(msg.bot, (lostOf.get(msg.bot) ?? 0) + 1);
      return;
    }
    const p = pending.get(msg.id);
    if (p === undefined) return;
    pending.delete(msg.id);
    if (msg.type === "error") p.reject(new Error(`${side} worker: ${msg.message}`));
    else p.resolve(msg);
  });
  void exited.then(({ code, signal }) => {
    for (const p of pending.values()) p.reject(new Error(`${side} worker exited (${code ?? signal}) before answering`));
    pending.clear();
  });
  const request = (msg) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ ...msg, id });
    });

  return {
    side,
    child,
    exited,
    /** Updates whose handler failed (the baseline's replies lost to network errors): they never reach the fake. */
    get lost() {
      let all = 0;
      for (const n of lostOf.values()) all += n;
      return all;
    },
    /** The same, for the bot at `index` of the tokens the side was started with. */
    lostOf(index) {
      return lostOf.get(index) ?? 0;
    },
    /** Starts the side; resolves with { ms, running } once it is up. */
    start: (params) => request({ type: "start", side, params }),
    /** { rss, heapUsed, cpuUser, cpuSystem (µs), peakRss } of the child; `gc` collects first (needs exposeGc). */
    stats: (opts = {}) => request({ type: "stats", ...opts }),
    /** Stops the side gracefully and waits for the process to exit (SIGKILL after `timeoutMs`). */
    async stop(timeoutMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await request({ type: "stop" }).catch(() => undefined);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

/**
 * Runs the real CLI, `bot-host start --config <configPath>`, as production does (JSON logs at info, dropped
 * here), with bench/lib/cli-probe.mjs preloaded to answer stats(). start() resolves once the host logged that
 * its bots are up; stop() sends SIGTERM (the coordinator's ordered stop) and waits for the exit.
 */
export function spawnCli(configPath, { exposeGc = false } = {}) {
  const extra = process.env.BENCH_HOST_NODE_OPTIONS ? process.env.BENCH_HOST_NODE_OPTIONS.split(" ") : [];
  const execArgv = [...extra, "--import", CLI_PROBE, ...(exposeGc ? ["--expose-gc"] : [])];
  const child = fork(CLI, ["start", "--config", configPath], { execArgv, stdio: ["ignore", "pipe", "inherit", "ipc"] });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const gone = exited.then(({ code, signal }) => Promise.reject(new Error(`bot-host start exited (${code ?? signal})`)));
  gone.catch(() => undefined);
  let markUp;
  const up = new Promise((resolve) => (markUp = resolve));
  let partial = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    if (lines.some((l) => /"msg":"(all bots are up|\d+ of \d+ bots are up)"/.test(l))) markUp();
  });
  const pending = new Map();
  let nextId = 1;
  child.on("message", (msg) => {
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  return {
    side: "host",
    child,
    exited,
    /** Resolves once the host logged that its bots are up. */
    start: () => Promise.race([up, gone]),
    /** { rss, heapUsed, heapTotal, external } of the CLI process; `gc` collects first (needs exposeGc). */
    stats: (opts = {}) =>
      Promise.race([
        new Promise((resolve) => {
          const id = nextId++;
          pending.set(id, resolve);
          child.send({ type: "stats", ...opts, id });
        }),
        gone,
      ]),
    /** SIGTERM, then waits for the exit (SIGKILL after `timeoutMs`). */
    async stop(timeoutMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.kill("SIGTERM");
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

/** CPU seconds (user + system) between two stats replies. */
export const cpuSeconds = (a, b) => (b.cpuUser - a.cpuUser + b.cpuSystem - a.cpuSystem) / 1e6;

/** Event-loop utilization (0..1: share of the time the main thread was busy) between two stats replies. */
export const elu = (a, b) => (b.eluActive - a.eluActive) / (b.eluActive - a.eluActive + b.eluIdle - a.eluIdle);
