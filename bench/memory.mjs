// Memory of idle polling bots: RSS and heap with 10, 100 and 1,000 bots whose long polls (timeout 30 s) sit
// idle at the fake, and the cost of each extra bot: (RSS@1000 - RSS@100) / 900.
//   node bench/memory.mjs [--quick]
// Each (side, N) runs in a fresh child started with --expose-gc; once every bot has a long poll pending at the
// fake, the child settles, collects garbage (3x) and is sampled 3 times 250 ms apart (median). RSS after start
// keeps some of the start's high-water mark, so each point is the median of REPEATS fresh children.
import { BENCH_APP, flags, fmt, freshPrefix, header, makeTokens, MB, median, ratio, runMain, sleep, table, target, writeHostConfig } from "./lib/common.mjs";
import { addBots, startFake, startRedis, waitAllPolling } from "./lib/env.mjs";
import { spawnSide } from "./lib/side.mjs";

const { quick } = flags();
const COUNTS = [10, 100, 1000];
const SETTLE_MS = quick ? 1_000 : 3_000;
const REPEATS = quick ? 1 : 3;

runMain(async () => {
  header(`memory: ${COUNTS.join(", ")} idle polling bots (long-poll timeout 30 s), median of ${REPEATS} run(s) per point`, quick);
  const redis = await startRedis();
  const env = await startFake();
  const results = { baseline: {}, host: {} };
  try {
    let base = 1_000_000;
    for (let rep = 0; rep < REPEATS; rep++) for (const n of COUNTS) {
      for (const side of ["baseline", "host"]) {
        const tokens = makeTokens(n, (base += 10_000));
        addBots(env, tokens);
        const configPath =
          side === "host"
            ? writeHostConfig({ apiRoot: env.fake.apiRoot, redisUrl: redis.url, prefix: freshPrefix("mem"), tokens, extra: { polling: { timeout: 30 } } })
            : undefined;
        const w = spawnSide(side, { exposeGc: true });
        try {
          await w.start({ apiRoot: env.fake.apiRoot, tokens, app: BENCH_APP, configPath });
          await waitAllPolling(env.fake, tokens);
          await sleep(SETTLE_MS);
          const samples = [];
          for (let i = 0; i < 3; i++) {
            samples.push(await w.stats({ gc: true }));
            await sleep(250);
          }
          const med = (k) => median(samples.map((s) => s[k]));
          const point = (results[side][n] ??= { rss: [], heap: [] });
          point.rss.push(med("rss"));
          point.heap.push(med("heapUsed"));
          process.stdout.write(`${side} ${n} bots (run ${rep + 1}): RSS ${fmt(MB(med("rss")))} MB, heap ${fmt(MB(med("heapUsed")))} MB\n`);
        } finally {
          await w.stop();
        }
      }
    }
  } finally {
    await env.fake.stop();
    await redis.stop();
  }

  for (const side of Object.values(results)) for (const p of Object.values(side)) (p.rss = median(p.rss)), (p.heap = median(p.heap));
  const rows = [["idle bots", "baseline RSS (MB)", "host RSS (MB)", "host/baseline", "baseline heap (MB)", "host heap (MB)", "host/baseline"]];
  for (const n of COUNTS) {
    const b = results.baseline[n];
    const h = results.host[n];
    rows.push([n, fmt(MB(b.rss)), fmt(MB(h.rss)), ratio(h.rss, b.rss), fmt(MB(b.heap)), fmt(MB(h.heap)), ratio(h.heap, b.heap)]);
  }
  const [lo, hi] = [COUNTS[1], COUNTS[2]];
  const slope = (side, k) => (results[side][hi][k] - results[side][lo][k]) / (hi - lo) / 1024;
  rows.push([
    `per extra bot, ${lo}->${hi} (KB)`,
    fmt(slope("baseline", "rss")),
    fmt(slope("host", "rss")),
    ratio(slope("host", "rss"), slope("baseline", "rss")),
    fmt(slope("baseline", "heap")),
    fmt(slope("host", "heap")),
    ratio(slope("host", "heap"), slope("baseline", "heap")),
  ]);
  table(`memory of idle polling bots (after GC; median of ${REPEATS} run(s), each the median of 3 samples)`, rows);
  target(`<= 30 KB RSS per extra idle bot at ${hi} bots`, slope("host", "rss") <= 30, `${fmt(slope("host", "rss"))} KB/bot; baseline ${fmt(slope("baseline", "rss"))} KB/bot`);
});
