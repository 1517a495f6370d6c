// Backlog: one bot finds 1,000,000 pending updates (over 10,000 chats) and its handler takes 20 ms. Memory must
// stay bounded (the host's default caps: polling.concurrency 500, global_concurrency 10000; the baseline's
// runner sink: 500) while it works through it.
//   node bench/backlog.mjs [--quick] [--profile]
// Per side: the backlog is injected (injectMany, 10,000 at a time) before the side starts; the child samples its
// own RSS every 100 ms (peak over its whole life, start included, with what V8's heap spaces held at that sample);
// after a warm-up the replies over a fixed window give the steady throughput (the backlog is not worked off
// completely: that would take minutes). The host side runs with the heap growth cap `bot-host start` sets.
import {
  BENCH_APP,
  flags,
  fmt,
  freshPrefix,
  header,
  makeTokens,
  MB,
  ratio,
  runMain,
  sleep,
  table,
  target,
  writeHostConfig,
} from "./lib/common.mjs";
import { addBots, dropPending, startFake, startRedis, textUpdate, until } from "./lib/env.mjs";
import { elu, spawnSide } from "./lib/side.mjs";

const { quick, profile } = flags();
const P = quick
  ? { pending: 100_000, chats: 10_000, handlerMs: 20, warmupS: 2, windowS: 6 }
  : { pending: 1_000_000, chats: 10_000, handlerMs: 20, warmupS: 5, windowS: 30 };
const CHUNK = 10_000;

runMain(async () => {
  header(
    `backlog: 1 bot, ${P.pending} pending updates over ${P.chats} chats, ${P.handlerMs} ms handler; throughput over ${P.windowS} s after ${P.warmupS} s`,
    quick,
  );
  const redis = await startRedis();
  const env = await startFake();
  const res = {};
  try {
    for (const side of ["baseline", "host"]) res[side] = await runSide(side, env, redis);
  } finally {
    await env.fake.stop();
    await redis.stop();
  }
  const b = res.baseline;
  const h = res.host;
  const rows = [["metric", "baseline", "host", "host/baseline"]];
  const row = (name, f, digits = 1, same = false) =>
    rows.push([name, fmt(f(b), digits), fmt(f(h), digits), same ? "-" : ratio(f(h), f(b))]);
  row("steady throughput (updates/s)", (s) => s.throughput, 0);
  row("slowest 1 s of the window (updates/s)", (s) => s.minPerSec, 0);
  row("ceiling: 500 in flight / 20 ms (updates/s)", () => 500_000 / P.handlerMs, 0, true);
  row("peak RSS, 100 ms samples (MB)", (s) => MB(s.peakRss));
  row("RSS at the end of the window (MB)", (s) => MB(s.rss));
  row("heap used at the end, after GC (MB)", (s) => MB(s.heapUsed));
  row("side CPU use (cores, main + GC threads)", (s) => s.cores, 2);
  row("side CPU per update (µs)", (s) => (s.cores * 1e6) / s.throughput, 0);
  row("side event-loop utilization", (s) => s.elu, 2);
  row("updates still pending at the fake", (s) => s.left, 0);
  table(`backlog of ${P.pending} updates, ${P.handlerMs} ms handler`, rows);
  target("backlog peak RSS < 150 MB", MB(h.peakRss) < 150, `host ${fmt(MB(h.peakRss))} MB; baseline ${fmt(MB(b.peakRss))} MB`);
});

async function runSide(side, env, redis) {
  const { fake, meter } = env;
  const tokens = makeTokens(1, side === "host" ? 5_000_000 : 6_000_000);
  const [i] = addBots(env, tokens);
  const text = `0 ${P.handlerMs}`;
  for (let k = 0; k < P.pending; k += CHUNK) {
    const bodies = [];
    for (let j = k; j < Math.min(P.pending, k + CHUNK); j++) bodies.push(textUpdate(1 + (j % P.chats), text));
    fake.injectMany(tokens[0], bodies);
    await sleep(0);
  }
  const configPath =
    side === "host" ? writeHostConfig({ apiRoot: fake.apiRoot, redisUrl: redis.url, prefix: freshPrefix("bl"), tokens }) : undefined;
  const w = spawnSide(side, { profile: profile ? `${side}-backlog` : undefined, exposeGc: true });
  try {
    await w.start({ apiRoot: fake.apiRoot, tokens, app: BENCH_APP, configPath });
    await until(() => meter.replies[i] > 0, 30_000, `${side}: first reply`);
    await sleep(P.warmupS * 1000);
    const s0 = await w.stats();
    const r0 = meter.replies[i];
    const t0 = performance.now();
    let last = r0;
    let minPerSec = Infinity;
    for (let s = 0; s < P.windowS; s++) {
      await sleep(1000);
      minPerSec = Math.min(minPerSec, meter.replies[i] - last);
      last = meter.replies[i];
    }
    const wall = (performance.now() - t0) / 1000;
    const s1 = await w.stats();
    const s2 = await w.stats({ gc: true });
    const throughput = (meter.replies[i] - r0) / wall;
    const cores = (s1.cpuUser - s0.cpuUser + s1.cpuSystem - s0.cpuSystem) / 1e6 / wall;
    const at = Object.entries(s1.peakSpaces ?? {})
      .filter(([, bytes]) => bytes >= 1 << 20)
      .map(([name, bytes]) => `${name} ${fmt(MB(bytes))}`)
      .join(", ");
    process.stdout.write(`${side}: ${fmt(throughput, 0)} updates/s, peak RSS ${fmt(MB(s1.peakRss))} MB (at the peak, MB: ${at})\n`);
    return {
      throughput,
      minPerSec,
      peakRss: s1.peakRss,
      rss: s1.rss,
      heapUsed: s2.heapUsed,
      cores,
      elu: elu(s0, s1),
      left: fake.pendingCount(tokens[0]),
    };
  } finally {
    await w.stop();
    await dropPending(fake, tokens[0]);
  }
}
