// Leases: how long a bot is without an owner when it changes hands, and what the leases cost Redis.
//   node bench/leases.mjs [--quick]
// Host: two real CLIs (`dist/src/cli/main.js start`) on one bots.yaml and one Redis, every bot receiving a
// message every 10 ms. Handover time = from the lease's release (heard on the lease channel, as the standby
// hears it) to the bot's first reply after it (only the new owner can reply then: the old one drained first).
// Measured twice per run: the rebalance when the second instance joins, and the SIGTERM of the first.
// Baseline: plain grammY + runner, which has no standby: a deploy stops the old process (drained), then
// starts the new one; its handover is from the old process' exit to each bot's first reply from the new one.
// Redis cost: commands per bot per second of two idle instances holding the leases (INFO commandstats).
// Restart after a crash: the only instance is SIGKILLed and started again at once on the same host; from the new
// process's spawn to each bot's first reply, with the default leases on (it takes its own leases over) and off.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { Redis } from "ioredis";
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
  sleep,
  table,
  writeHostConfig,
} from "./lib/common.mjs";
import { addBots, startFake, startRedis, textUpdate, until } from "./lib/env.mjs";
import { spawnSide } from "./lib/side.mjs";

const { quick } = flags();
const BOTS = quick ? 4 : 10;
const REPEATS = quick ? 2 : 4;
const COST_BOTS = quick ? 20 : 100;
const COST_SECONDS = quick ? 5 : 15;
const TTL = 10;
const CLI = join(ROOT, "dist/src/cli/main.js");

runMain(async () => {
  header(
    `leases: handover of ${BOTS} bots under a message every 10 ms per bot, ${REPEATS} runs per side; Redis cost of ${COST_BOTS} idle bots`,
    quick,
  );
  const redis = await startRedis();
  const env = await startFake();
  const replies = new Map(); // token -> reply times (performance.now())
  const meterSend = env.meter.onSend.bind(env.meter);
  env.fake.setHandler("sendMessage", (call) => {
    let list = replies.get(call.token);
    if (list === undefined) replies.set(call.token, (list = []));
    list.push(performance.now());
    return meterSend(call);
  });
  const firstReplyAfter = (token, t) => (replies.get(token) ?? []).find((x) => x > t);
  const host = [];
  const baseline = [];
  let cost;
  const restart = { on: [], off: [] };
  try {
    let base = 5_000_000;
    for (let r = 0; r < REPEATS; r++) {
      host.push(...(await hostRun(env, redis, makeTokens(BOTS, (base += 1_000)), firstReplyAfter)));
      baseline.push(...(await baselineRun(env, makeTokens(BOTS, (base += 1_000)), firstReplyAfter)));
    }
    cost = await redisCost(env, redis, makeTokens(COST_BOTS, (base += 1_000)));
    for (let r = 0; r < REPEATS; r++) {
      restart.off.push(...(await restartRun(env, redis, makeTokens(BOTS, (base += 1_000)), false, firstReplyAfter)));
      restart.on.push(...(await restartRun(env, redis, makeTokens(BOTS, (base += 1_000)), true, firstReplyAfter)));
    }
  } finally {
    await env.fake.stop();
    await redis.stop();
  }
  const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
  table("handover: release -> first update handled by the new owner (ms, per bot)", [
    ["", "baseline (stop, then start)", "host (standby takes over)", "host/baseline"],
    ["median", fmt(median(baseline), 0), fmt(median(host), 0), ratio(median(host), median(baseline))],
    ["p90", fmt(q(baseline, 0.9), 0), fmt(q(host, 0.9), 0), ratio(q(host, 0.9), q(baseline, 0.9))],
    ["max", fmt(Math.max(...baseline), 0), fmt(Math.max(...host), 0), ratio(Math.max(...host), Math.max(...baseline))],
    ["handovers measured", String(baseline.length), String(host.length), "-"],
  ]);
  table("restart after SIGKILL of the only instance: spawn -> each bot's first reply (ms, per bot)", [
    ["", "leases off", "leases on (default)", "on/off"],
    ["median", fmt(median(restart.off), 0), fmt(median(restart.on), 0), ratio(median(restart.on), median(restart.off))],
    ["max", fmt(Math.max(...restart.off), 0), fmt(Math.max(...restart.on), 0), ratio(Math.max(...restart.on), Math.max(...restart.off))],
    ["restarts x bots measured", String(restart.off.length), String(restart.on.length), "-"],
  ]);
  table(`Redis cost of the leases (2 idle instances, ${COST_BOTS} bots, ${COST_SECONDS} s, lease TTL ${TTL} s)`, [
    ["", "baseline", "host"],
    ["lease round trips per second (EVALSHA)", "0 (no shared state)", fmt(cost.tripsPerSecond, 1)],
    ["round trips per bot per second", "0", fmt(cost.tripsPerBotSecond, 3)],
    ["commands executed per bot per second (inside scripts included, PING excluded)", "0", fmt(cost.executedPerBotSecond, 3)],
    ["by command (all, PING = health check of each instance)", "-", cost.byCommand],
  ]);
});

/** One host run: A alone, B joins (rebalance), A gets SIGTERM. Returns the handover times (ms). */
async function hostRun(env, redis, tokens, firstReplyAfter) {
  const { fake } = env;
  addBots(env, tokens);
  const prefix = freshPrefix("leases");
  const config = writeHostConfig({ apiRoot: fake.apiRoot, redisUrl: redis.url, prefix, tokens, extra: { leases: { ttl: TTL } } });
  const sub = new Redis(redis.url);
  const released = []; // [botId, time]
  sub.on("message", (_c, m) => {
    if (m.startsWith("released ")) released.push([m.slice(9), performance.now()]);
  });
  await sub.subscribe(`${prefix}leases`);
  const a = await startCli(config);
  const stop = feed(fake, tokens);
  try {
    await a.up;
    const b = await startCli(config);
    await until(() => b.owned() >= Math.floor(BOTS / 2), 30_000, "the second instance takes its share", 5);
    await sleep(500);
    a.child.kill("SIGTERM");
    await a.exited;
    await until(() => b.owned() === BOTS, 30_000, "the second instance takes every bot", 5);
    await sleep(300);
    stop();
    b.child.kill("SIGTERM");
    await b.exited;
  } finally {
    stop();
    sub.disconnect();
  }
  const idOf = (botId) => tokens[Number(botId.slice(1))];
  const times = released.map(([botId, t]) => firstReplyAfter(idOf(botId), t) - t).filter(Number.isFinite);
  process.stdout.write(`host: ${released.length} handovers, median ${fmt(median(times), 0)} ms, max ${fmt(Math.max(...times), 0)} ms\n`);
  // the last releases (B's own shutdown) have no new owner: they are not in `times`
  return times;
}

/** One baseline run: plain grammY stopped (drained), then a new process started. Returns per-bot times (ms). */
async function baselineRun(env, tokens, firstReplyAfter) {
  addBots(env, tokens);
  const stop = feed(env.fake, tokens);
  try {
    const w1 = spawnSide("baseline");
    await w1.start({ apiRoot: env.fake.apiRoot, tokens, app: BENCH_APP, drainOnSigterm: true });
    await sleep(500);
    await w1.stop();
    const t = performance.now();
    const w2 = spawnSide("baseline");
    await w2.start({ apiRoot: env.fake.apiRoot, tokens, app: BENCH_APP });
    await until(() => tokens.every((tk) => firstReplyAfter(tk, t) !== undefined), 30_000, "every bot answers again", 5);
    stop();
    await w2.stop();
    const times = tokens.map((tk) => firstReplyAfter(tk, t) - t);
    process.stdout.write(`baseline: median ${fmt(median(times), 0)} ms, max ${fmt(Math.max(...times), 0)} ms\n`);
    return times;
  } finally {
    stop();
  }
}

/** Two idle instances holding `tokens`' leases: Redis commands per second, from INFO commandstats. */
async function redisCost(env, redis, tokens) {
  addBots(env, tokens);
  const config = writeHostConfig({
    apiRoot: env.fake.apiRoot,
    redisUrl: redis.url,
    prefix: freshPrefix("lease-cost"),
    tokens,
    extra: { leases: { ttl: TTL } },
  });
  const a = await startCli(config);
  await a.up;
  const b = await startCli(config);
  await until(
    () => a.owned() + b.owned() === tokens.length && b.owned() >= tokens.length / 2,
    60_000,
    "both instances hold their share",
    5,
  );
  await sleep(TTL * 1000); // let the startup traffic pass: whole renew periods from here
  const probe = new Redis(redis.url);
  const stats = async () =>
    Object.fromEntries([...(await probe.info("commandstats")).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].map((m) => [m[1], Number(m[2])]));
  const before = await stats();
  await sleep(COST_SECONDS * 1000);
  const after = await stats();
  probe.disconnect();
  for (const p of [a, b]) p.child.kill("SIGTERM");
  await Promise.all([a.exited, b.exited]);
  const deltas = Object.entries(after)
    .map(([cmd, n]) => [cmd, n - (before[cmd] ?? 0) - (cmd === "info" ? 1 : 0)])
    .filter(([, n]) => n > 0)
    .sort((x, y) => y[1] - x[1]);
  // Calls of a script's own commands are counted too: the round trips are the EVALSHA/EVAL calls; PING is the
  // store's health check (one per instance per second, with or without leases).
  const sum = (pred) => deltas.filter(([c]) => pred(c)).reduce((s, [, n]) => s + n, 0);
  const trips = sum((c) => c === "evalsha" || c === "eval");
  const executed = sum((c) => c !== "ping");
  return {
    tripsPerSecond: trips / COST_SECONDS,
    tripsPerBotSecond: trips / COST_SECONDS / tokens.length,
    executedPerBotSecond: executed / COST_SECONDS / tokens.length,
    byCommand: deltas.map(([c, n]) => `${c} ${fmt(n / COST_SECONDS, 1)}/s`).join(", "),
  };
}

/**
 * The only instance, SIGKILLed under load and started again at once (the same host, as a supervisor does): ms from
 * the new process's spawn to each bot's first reply.
 */
async function restartRun(env, redis, tokens, leases, firstReplyAfter) {
  addBots(env, tokens);
  const extra = { leases: leases ? { ttl: TTL } : { enabled: false } };
  const config = writeHostConfig({ apiRoot: env.fake.apiRoot, redisUrl: redis.url, prefix: freshPrefix("restart"), tokens, extra });
  const stop = feed(env.fake, tokens);
  try {
    const a = await startCli(config);
    await a.up;
    await sleep(300);
    a.child.kill("SIGKILL");
    await a.exited;
    const t = performance.now();
    const b = await startCli(config);
    await until(() => tokens.every((tk) => firstReplyAfter(tk, t) !== undefined), 60_000, "every bot answers after the restart", 5);
    const times = tokens.map((tk) => firstReplyAfter(tk, t) - t);
    stop();
    b.child.kill("SIGTERM");
    await b.exited;
    process.stdout.write(
      `restart, leases ${leases ? "on" : "off"}: median ${fmt(median(times), 0)} ms, max ${fmt(Math.max(...times), 0)} ms\n`,
    );
    return times;
  } finally {
    stop();
  }
}

/** Sends every bot a message every 10 ms until the returned function is called. */
function feed(fake, tokens) {
  let n = 0;
  const timer = setInterval(() => {
    for (const t of tokens) fake.inject(t, textUpdate(1 + (n % 20), `${performance.now().toFixed(2)} 0`));
    n++;
  }, 10);
  return () => clearInterval(timer);
}

/** The real CLI; `owned()` counts the bots it holds by lease, from its log. */
async function startCli(config) {
  const child = spawn(process.execPath, [CLI, "start", "--config", config, "--log-level", "info"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code: code ?? signal })));
  const owned = new Set();
  let ready;
  const up = new Promise((resolve) => (ready = resolve));
  createInterface({ input: child.stdout }).on("line", (line) => {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    if (e.msg === "all bots are up") ready();
    if (e.msg === "took the lease of this bot; starting it here") owned.add(e.bot);
    if (e.msg === "handed this bot over: drained, offset confirmed, lease released" || String(e.msg).startsWith("lost the lease"))
      owned.delete(e.bot);
    if (e.level >= 50) process.stderr.write(`[cli] ${line}\n`);
  });
  return { child, exited, up, owned: () => owned.size };
}
