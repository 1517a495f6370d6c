// Scale: many webhook bots (and many polling bots) on one instance with the default leases on, as a fleet of
// white-label bots runs. One real `bot-host start` per size, on its own Redis prefix; the local Bot API in this
// process delivers each bot's updates to the host's webhook route, with the secret header.
//   node bench/scale.mjs [--quick] [--sizes 1000,10000] [--polling 10000]
// Per size: cold start (spawn -> "all bots are up", empty Redis) and the Bot API calls it made; idle CPU (share of
// one core) and RSS as sampled from 10 s after the start for IDLE_S seconds, and Redis commands per second meanwhile
// (INFO stats); 2,000 single updates, each into a random bot, each sent after the previous one was answered (CPU
// per update); then SIGTERM and a restart with the same file: spawn -> "all bots are up", and the Bot API calls
// the restart made. The same 10,000 bots with `leases.enabled: false` are the baseline row.
import { Redis } from "ioredis";
import { freePort, flags, fmt, freshPrefix, header, makeTokens, runMain, sleep, table, writeHostConfig } from "./lib/common.mjs";
import { startRedis, textUpdate, until } from "./lib/env.mjs";
import { LocalBotApi } from "../dist/src/local-api/index.js";
import { cpuSeconds, spawnCli } from "./lib/side.mjs";

const { quick } = flags();
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const SIZES = (arg("--sizes") ?? (quick ? "1000" : "1000,10000,100000")).split(",").map(Number);
const POLLING = Number(arg("--polling") ?? (quick ? 0 : 10_000));
const BASELINE = quick ? 0 : 10_000;
const IDLE_S = quick ? 5 : 20;
const UPDATES = quick ? 300 : 2_000;
const SETUP_CALLS = ["getMe", "setWebhook", "deleteWebhook", "getWebhookInfo"];

runMain(async () => {
  header(`scale: ${SIZES.join(", ")} webhook bots${POLLING ? ` and ${POLLING} polling bots` : ""} on one instance, leases on`, quick);
  const redis = await startRedis();
  const env = { fake: await LocalBotApi.start({ record: false }) };
  const rows = [];
  let base = 0;
  const run = async (n, mode, leases) => {
    const tokens = makeTokens(n, 7_000_000 + base);
    base += n;
    for (const t of tokens) env.fake.addBot(t);
    try {
      rows.push(await measure({ tokens, mode, leases, redis, env }));
    } finally {
      for (const t of tokens) env.fake.removeBot(t);
    }
  };
  for (const n of SIZES) await run(n, "webhook", true);
  if (BASELINE) await run(BASELINE, "webhook", false);
  if (POLLING) await run(POLLING, "polling", true);
  table("one instance, every setting at its default but the mode", [
    [
      "bots",
      "mode",
      "leases",
      "cold start s",
      "first ready s (bots owned then)",
      "Bot API calls",
      "idle CPU % of a core",
      "idle RSS MB",
      "Redis cmd/s idle",
      "CPU µs/update",
      "answered",
      "restart s",
      "Bot API calls",
    ],
    ...rows,
  ]);
  await env.fake.stop();
  await redis.stop();
});

async function measure({ tokens, mode, leases, redis, env }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const path = writeHostConfig({
    apiRoot: env.fake.apiRoot,
    redisUrl: redis.url,
    prefix: freshPrefix("scale"),
    tokens,
    extra: {
      mode,
      http: { listen: `127.0.0.1:${port}` },
      webhook: { public_url: url },
      ...(leases ? {} : { leases: { enabled: false } }),
    },
  });
  const calls = () => tokens.reduce((sum, t) => sum + SETUP_CALLS.reduce((s, m) => s + env.fake.callCount(t, m), 0), 0);
  const commands = async (client) => Number(/total_commands_processed:(\d+)/.exec(await client.info("stats"))?.[1]);
  const client = new Redis(redis.url);

  let t0 = performance.now();
  let calls0 = calls();
  let host = spawnCli(path);
  const firstReady = watchReady(url, t0);
  await host.start();
  const cold = (performance.now() - t0) / 1000;
  const ready = await firstReady;
  const coldCalls = calls() - calls0;

  await sleep(10_000);
  const a = await host.stats();
  const c0 = await commands(client);
  const rss = [];
  for (let i = 0; i < IDLE_S; i++) {
    await sleep(1_000);
    rss.push((await host.stats()).rss);
  }
  const b = await host.stats();
  const c1 = await commands(client);
  const idleCpu = (cpuSeconds(a, b) / IDLE_S) * 100;
  const idleRss = rss.reduce((x, y) => x + y, 0) / rss.length / 2 ** 20;
  const redisPerS = (c1 - c0 - IDLE_S - 2) / IDLE_S; // less this bench's own INFO calls

  let answered = 0;
  const u0 = await host.stats();
  for (let i = 0; i < UPDATES; i++) {
    const token = tokens[Math.floor(Math.random() * tokens.length)];
    const before = env.fake.callCount(token, "sendMessage");
    env.fake.inject(token, textUpdate(1_000 + i, "hi"));
    await until(() => env.fake.callCount(token, "sendMessage") > before, 30_000, `update ${i} answered`, 1).then(() => answered++);
  }
  const u1 = await host.stats();
  const perUpdate = (cpuSeconds(u0, u1) / UPDATES) * 1e6;

  await host.stop();
  t0 = performance.now();
  calls0 = calls();
  host = spawnCli(path);
  await host.start();
  const restart = (performance.now() - t0) / 1000;
  const restartCalls = calls() - calls0;
  await host.stop();
  client.disconnect();
  process.stdout.write(`  ${tokens.length} ${mode} bots, leases ${leases ? "on" : "off"}: done\n`);
  return [
    tokens.length,
    mode,
    leases ? "on" : "off",
    fmt(cold),
    `${fmt(ready.s)} (${ready.owned})`,
    coldCalls,
    fmt(idleCpu),
    fmt(idleRss, 0),
    fmt(redisPerS, 0),
    fmt(perUpdate, 0),
    `${answered}/${UPDATES}`,
    fmt(restart),
    restartCalls,
  ];
}

/** Polls `/readyz` from the spawn until it first says ready: when (s from `t0`) and how many bots were owned then. */
async function watchReady(url, t0) {
  for (;;) {
    const body = await fetch(`${url}/readyz`)
      .then((r) => r.json())
      .catch(() => undefined);
    if (body?.ready === true)
      return { s: (performance.now() - t0) / 1000, owned: body.leases?.owned.length ?? Object.keys(body.bots).length };
    await sleep(50);
  }
}
