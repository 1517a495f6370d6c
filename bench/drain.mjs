// Drain: time from SIGTERM to process exit with 500 updates in flight (10 bots x 50 chats, one update per chat,
// handlers sleeping 100..500 ms), against the longest handler.
//   node bench/drain.mjs [--quick]
// Host: the real CLI (`dist/src/cli/main.js start --config ...`) as a child. Baseline: plain grammY bots under
// run() that on SIGTERM stop their runners, wait for the handlers in flight and exit (no offset confirmation).
// SIGTERM is sent as soon as the fake has every handler's "begin" reply (all 500 are running).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import {
  BENCH_APP,
  flags,
  fmt,
  freshPrefix,
  header,
  makeTokens,
  median,
  ratio,
  ROOT,
  runMain,
  table,
  target,
  writeHostConfig,
} from "./lib/common.mjs";
import { addBots, startFake, startRedis, textUpdate, until, waitAllPolling } from "./lib/env.mjs";
import { spawnSide } from "./lib/side.mjs";

const { quick } = flags();
const BOTS = 10;
const CHATS_PER_BOT = 50;
const N = BOTS * CHATS_PER_BOT;
const MIN_MS = 100;
const MAX_MS = 500;
const REPEATS = quick ? 2 : 5;
const CLI = join(ROOT, "dist/src/cli/main.js");

runMain(async () => {
  header(
    `drain: SIGTERM with ${N} updates in flight (${BOTS} bots x ${CHATS_PER_BOT} chats), handlers ${MIN_MS}-${MAX_MS} ms, ${REPEATS} runs per side`,
    quick,
  );
  const redis = await startRedis();
  const env = await startFake();
  const runs = { baseline: [], host: [] };
  try {
    let base = 3_000_000;
    for (let r = 0; r < REPEATS; r++) {
      for (const side of ["baseline", "host"]) runs[side].push(await runOnce(side, env, redis, (base += 1_000)));
    }
  } finally {
    await env.fake.stop();
    await redis.stop();
  }
  const rows = [["metric (median of runs; max in brackets)", "baseline", "host", "host/baseline"]];
  const row = (name, k) => {
    const [b, h] = [runs.baseline.map((x) => x[k]), runs.host.map((x) => x[k])];
    rows.push([
      name,
      `${fmt(median(b), 0)} (${fmt(Math.max(...b), 0)})`,
      `${fmt(median(h), 0)} (${fmt(Math.max(...h), 0)})`,
      ratio(median(h), median(b)),
    ]);
  };
  row("SIGTERM -> process exit (ms)", "exitMs");
  row("SIGTERM -> last handler's reply (ms)", "lastMs");
  row("last reply -> process exit (ms)", "overheadMs");
  rows.push([
    "replies after SIGTERM / exit code",
    runs.baseline.map((x) => `${x.finished}/${x.code}`).join(" "),
    runs.host.map((x) => `${x.finished}/${x.code}`).join(" "),
    "-",
  ]);
  table(`drain with ${N} updates in flight (longest handler ${MAX_MS} ms)`, rows);
  const worst = Math.max(...runs.host.map((x) => x.exitMs));
  target(
    `drain <= longest handler (${MAX_MS} ms) + 250 ms`,
    worst <= MAX_MS + 250,
    `host worst ${fmt(worst, 0)} ms, median ${fmt(median(runs.host.map((x) => x.exitMs)), 0)} ms; baseline median ${fmt(median(runs.baseline.map((x) => x.exitMs)), 0)} ms`,
  );
  if (runs.host.some((x) => x.steps)) process.stdout.write(`host shutdown steps (last run): ${runs.host.at(-1).steps}\n`);
});

async function runOnce(side, env, redis, idBase) {
  const { fake, meter } = env;
  const tokens = makeTokens(BOTS, idBase);
  addBots(env, tokens);
  const proc = side === "host" ? await startCli(fake, redis, tokens) : await startBaseline(fake, tokens);
  try {
    await waitAllPolling(fake, tokens);
    const [begins0, replies0] = [meter.begins, meter.total];
    for (let b = 0; b < BOTS; b++) {
      const bodies = [];
      for (let c = 0; c < CHATS_PER_BOT; c++) {
        const i = b * CHATS_PER_BOT + c;
        const ms = MIN_MS + Math.round(((MAX_MS - MIN_MS) * i) / (N - 1));
        bodies.push(textUpdate(1 + i, `${performance.now().toFixed(2)} ${ms} b`));
      }
      fake.injectMany(tokens[b], bodies);
    }
    await until(() => meter.begins - begins0 >= N, 30_000, `${side}: all ${N} handlers running`, 1);
    const repliesAtSignal = meter.total - replies0;
    const t0 = performance.now();
    proc.child.kill("SIGTERM");
    const { code } = await proc.exited;
    const exitMs = performance.now() - t0;
    const lastMs = meter.lastReplyAt - t0;
    const finished = meter.total - replies0 - repliesAtSignal;
    process.stdout.write(
      `${side}: exit ${code} after ${fmt(exitMs, 0)} ms, last reply at ${fmt(lastMs, 0)} ms, ${finished} finished after SIGTERM\n`,
    );
    return { exitMs, lastMs, overheadMs: exitMs - lastMs, finished, code, steps: proc.steps?.() };
  } finally {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL");
  }
}

/** The real CLI, logging JSON lines at info to a pipe; resolves once it logged "all bots are up". */
async function startCli(fake, redis, tokens) {
  const config = writeHostConfig({ apiRoot: fake.apiRoot, redisUrl: redis.url, prefix: freshPrefix("drain"), tokens });
  const child = spawn(process.execPath, [CLI, "start", "--config", config, "--log-level", "info"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code: code ?? signal })));
  const steps = [];
  let up;
  const isUp = new Promise((resolve) => (up = resolve));
  createInterface({ input: child.stdout }).on("line", (line) => {
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (entry.msg === "all bots are up") up();
    if (typeof entry.step === "number") steps.push(`${entry.step}:${entry.ms}ms`);
    if (entry.level >= 50) process.stderr.write(`[cli] ${line}\n`);
  });
  await Promise.race([isUp, exited.then(({ code }) => Promise.reject(new Error(`the CLI exited (${code}) before its bots were up`)))]);
  return { child, exited, steps: () => steps.join(" ") };
}

async function startBaseline(fake, tokens) {
  const w = spawnSide("baseline");
  await w.start({ apiRoot: fake.apiRoot, tokens, app: BENCH_APP, drainOnSigterm: true });
  return { child: w.child, exited: w.exited };
}
