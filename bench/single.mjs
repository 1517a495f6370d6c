// The single-update regime, where the bots of a fleet live: each update arrives alone, so it pays for a whole
// getUpdates round trip (or a webhook request), its reply call and its Redis round trips, with no batch to share
// them. 100 bots; N updates, each into a random bot (a chat of its own), each sent only after the previous one was
// answered; CPU per update of each side (user + system, from its process), and the update-to-reply latency.
//   node bench/single.mjs [--quick] [--profile (a .cpuprofile per side in bench/profiles/)]
// Sides: plain grammY + runner (polling, the baseline), the host polling, the host with webhooks (the local Bot
// API posts each update to the host's webhook route). The host runs with its Redis journal, the default.
import {
  freePort,
  BENCH_APP,
  flags,
  fmt,
  freshPrefix,
  header,
  makeTokens,
  quantile,
  ratio,
  runMain,
  table,
  writeHostConfig,
} from "./lib/common.mjs";
import { addBots, startFake, startRedis, textUpdate, until, waitAllPolling } from "./lib/env.mjs";
import { cpuSeconds, spawnSide } from "./lib/side.mjs";
import { Redis } from "ioredis";

const { quick, profile } = flags();
const BOTS = quick ? 20 : 100;
const UPDATES = quick ? 300 : 2_000;
const WARMUP = quick ? 50 : 200;

runMain(async () => {
  header(`single updates: ${BOTS} bots, ${UPDATES} updates one at a time, each into a random bot`, quick);
  const redis = await startRedis();
  const env = await startFake();
  try {
    const rows = [];
    const base = await runSide("baseline", "polling", env, redis, 8_000_000);
    rows.push(base);
    rows.push(await runSide("host", "polling", env, redis, 7_000_000));
    rows.push(await runSide("host", "webhook", env, redis, 6_000_000));
    table("CPU per update when updates arrive one at a time", [
      [
        "side",
        "mode",
        "CPU µs/update",
        "vs baseline",
        "latency p50 ms",
        "p99 ms",
        "Redis commands/update (scripts)",
        "Redis round trips/update",
      ],
      ...rows.map((r) => [
        r.side,
        r.mode,
        fmt(r.cpuUs, 0),
        ratio(r.cpuUs, base.cpuUs),
        fmt(r.p50),
        fmt(r.p99),
        `${fmt(r.redisCalls)} (${fmt(r.scripts)})`,
        fmt(r.roundTrips),
      ]),
    ]);
  } finally {
    await env.fake.stop();
    await redis.stop();
  }
});

async function runSide(side, mode, env, redis, tokenBase) {
  const { fake, meter } = env;
  const tokens = makeTokens(BOTS, tokenBase);
  addBots(env, tokens);
  let configPath;
  if (side === "host") {
    const port = await freePort();
    const webhook =
      mode === "webhook" ? { mode, http: { listen: `127.0.0.1:${port}` }, webhook: { public_url: `http://127.0.0.1:${port}` } } : {};
    configPath = writeHostConfig({ apiRoot: fake.apiRoot, redisUrl: redis.url, prefix: freshPrefix("single"), tokens, extra: webhook });
  }
  const w = spawnSide(side, { profile: profile ? `${side}-${mode}-single` : undefined });
  try {
    await w.start({ apiRoot: fake.apiRoot, tokens, app: BENCH_APP, configPath });
    if (mode === "polling") await waitAllPolling(fake, tokens);
    let chat = tokenBase;
    const one = async () => {
      const goal = meter.total + 1;
      fake.inject(tokens[Math.floor(Math.random() * tokens.length)], textUpdate(++chat, performance.now().toFixed(2)));
      await until(() => meter.total >= goal, 30_000, `${side} ${mode}: an update answered`, 0);
    };
    for (let i = 0; i < WARMUP; i++) await one();
    meter.resetLatency();
    const client = new Redis(redis.url);
    const c0 = await callsOf(client);
    const q0 = await redis.reads();
    const a = await w.stats();
    for (let i = 0; i < UPDATES; i++) await one();
    const b = await w.stats();
    const q1 = await redis.reads();
    const c1 = await callsOf(client);
    client.disconnect();
    const lat = meter.latencies();
    const r = {
      side,
      mode,
      cpuUs: (cpuSeconds(a, b) / UPDATES) * 1e6,
      p50: quantile(lat, 0.5),
      p99: quantile(lat, 0.99),
      redisCalls: (c1.calls - c0.calls) / UPDATES,
      scripts: (c1.scripts - c0.scripts) / UPDATES,
      // socket reads of redis-server (one per client write), less the one of this script's own INFO
      roundTrips: (q1 - q0 - 1) / UPDATES,
    };
    process.stdout.write(`${side} ${mode}: ${fmt(r.cpuUs, 0)} µs/update, p50 ${fmt(r.p50)} ms\n`);
    return r;
  } finally {
    await w.stop();
  }
}

/** From INFO commandstats: commands executed (those run inside scripts included; this script's INFO excluded) and scripts run. */
async function callsOf(client) {
  const stats = await client.info("commandstats");
  let calls = 0;
  let scripts = 0;
  for (const m of stats.matchAll(/cmdstat_([a-z_|]+):calls=(\d+)/g)) {
    const [name, n] = [m[1], Number(m[2])];
    if (name === "info") continue;
    calls += n;
    if (name.startsWith("eval")) scripts += n;
  }
  return { calls, scripts };
}
