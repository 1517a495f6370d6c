// Memory of idle polling bots: RSS and heap with 10, 100 and 1,000 bots whose long polls (timeout 30 s) sit
// idle at the fake, and the cost of each extra bot: (RSS@1000 - RSS@100) / 900.
//   node bench/memory.mjs [--quick] [--settle 30]
// The host side is the real `bot-host start` CLI on a generated bots.yaml (Redis sessions, outgoing throttle
// off), the baseline plain grammY + runner (bench/lib/worker.mjs); each (side, N) runs in a fresh child started
// with --expose-gc. Once every bot has a long poll pending at the fake, the child is left alone for 8 s and then
// sampled twice: first as a container limit sees it (3 samples 250 ms apart, no forced GC: what production
// runs at), then after 3 forced collections (3 samples: what is live). Each figure is the median of those 3
// samples, and each point the median of REPEATS fresh children. --settle S samples once more (no forced GC)
// after S seconds idle, when V8's memory reducer has usually shrunk both heaps (see BENCHMARKS.md).
import {
  BENCH_APP,
  flags,
  fmt,
  freshPrefix,
  header,
  makeTokens,
  MB,
  median,
  ratio,
  runMain,
  sleep,
  table,
  target,
  writeHostConfig,
} from "./lib/common.mjs";
import { addBots, startFake, startRedis, waitAllPolling } from "./lib/env.mjs";
import { spawnCli, spawnSide } from "./lib/side.mjs";

const { quick } = flags();
const COUNTS = [10, 100, 1000];
const IDLE_MS = 8_000;
const REPEATS = quick ? 1 : 3;
const SETTLE_S = process.argv.includes("--settle") ? Number(process.argv[process.argv.indexOf("--settle") + 1]) : undefined;
const FIXED_TARGET_MB = 10;
const PER_BOT_TARGET_KB = 30;

runMain(async () => {
  header(
    `memory: ${COUNTS.join(", ")} idle polling bots (long-poll timeout 30 s), sampled after ${IDLE_MS / 1000} s idle, median of ${REPEATS} run(s) per point`,
    quick,
  );
  const redis = await startRedis();
  const env = await startFake();
  const results = { baseline: {}, host: {} };
  try {
    let base = 1_000_000;
    for (let rep = 0; rep < REPEATS; rep++)
      for (const n of COUNTS) {
        for (const side of ["baseline", "host"]) {
          const tokens = makeTokens(n, (base += 10_000));
          addBots(env, tokens);
          const w =
            side === "host"
              ? spawnCli(
                  writeHostConfig({
                    apiRoot: env.fake.apiRoot,
                    redisUrl: redis.url,
                    prefix: freshPrefix("mem"),
                    tokens,
                    extra: { polling: { timeout: 30 } },
                  }),
                  { exposeGc: true },
                )
              : spawnSide(side, { exposeGc: true });
          try {
            await w.start({ apiRoot: env.fake.apiRoot, tokens, app: BENCH_APP });
            await waitAllPolling(env.fake, tokens);
            await sleep(IDLE_MS);
            const sampled = await samples(w, false);
            if (SETTLE_S !== undefined) await sleep(SETTLE_S * 1000 - IDLE_MS - 750);
            const settled = SETTLE_S === undefined ? sampled : await samples(w, false);
            const live = await samples(w, true);
            const point = (results[side][n] ??= { rss: [], heap: [], rssSettled: [], heapSettled: [], rssGc: [], heapGc: [], spaces: [] });
            point.rssSettled.push(settled.rss);
            point.heapSettled.push(settled.heap);
            point.rss.push(sampled.rss);
            point.heap.push(sampled.heap);
            point.rssGc.push(live.rss);
            point.heapGc.push(live.heap);
            point.spaces.push(sampled.spaces);
            process.stdout.write(
              `${side} ${n} bots (run ${rep + 1}): RSS ${fmt(MB(sampled.rss))} MB as sampled${SETTLE_S === undefined ? "" : `, ${fmt(MB(settled.rss))} MB after ${SETTLE_S} s`}, ${fmt(MB(live.rss))} MB after GC; heap ${fmt(MB(sampled.heap))} / ${fmt(MB(live.heap))} MB\n`,
            );
          } finally {
            await w.stop();
          }
        }
      }
  } finally {
    await env.fake.stop();
    await redis.stop();
  }

  for (const side of Object.values(results)) {
    for (const p of Object.values(side)) {
      // The breakdown is the one of the run with the median RSS, so that its parts add up to that RSS.
      p.spaces = p.spaces[p.rss.indexOf(median(p.rss))];
      for (const k of ["rss", "heap", "rssSettled", "heapSettled", "rssGc", "heapGc"]) p[k] = median(p[k]);
    }
  }
  const [lo, hi] = [COUNTS[1], COUNTS[2]];
  const perBot = (side, k) => (results[side][hi][k] - results[side][lo][k]) / (hi - lo) / 1024;
  const report = (k, heapKey, title) => {
    const rows = [
      ["idle bots", "baseline RSS (MB)", "host RSS (MB)", "host - baseline (MB)", "host/baseline", "baseline heap (MB)", "host heap (MB)"],
    ];
    for (const n of COUNTS) {
      const b = results.baseline[n];
      const h = results.host[n];
      rows.push([n, fmt(MB(b[k])), fmt(MB(h[k])), fmt(MB(h[k] - b[k])), ratio(h[k], b[k]), fmt(MB(b[heapKey])), fmt(MB(h[heapKey]))]);
    }
    rows.push([
      `per extra bot, ${lo}->${hi} (KB)`,
      fmt(perBot("baseline", k)),
      fmt(perBot("host", k)),
      "",
      ratio(perBot("host", k), perBot("baseline", k)),
      fmt(perBot("baseline", heapKey)),
      fmt(perBot("host", heapKey)),
    ]);
    table(title, rows);
  };
  report(
    "rss",
    "heap",
    `memory of idle polling bots, as sampled after ${IDLE_MS / 1000} s idle (no forced GC; median of ${REPEATS} run(s), each the median of 3 samples)`,
  );
  if (SETTLE_S !== undefined) report("rssSettled", "heapSettled", `the same processes after ${SETTLE_S} s idle (no forced GC)`);
  report("rssGc", "heapGc", `the same processes after 3 forced GCs (what is live)`);

  fixedProfile(results, COUNTS[0]);

  const fixed = results.host[COUNTS[0]].rss - results.baseline[COUNTS[0]].rss;
  target(
    `RSS at ${COUNTS[0]} bots <= baseline + ${FIXED_TARGET_MB} MB, no forced GC`,
    MB(fixed) <= FIXED_TARGET_MB,
    `host ${fmt(MB(results.host[COUNTS[0]].rss))} MB, baseline ${fmt(MB(results.baseline[COUNTS[0]].rss))} MB: +${fmt(MB(fixed))} MB; after GC +${fmt(MB(results.host[COUNTS[0]].rssGc - results.baseline[COUNTS[0]].rssGc))} MB`,
  );
  target(
    `<= ${PER_BOT_TARGET_KB} KB RSS per extra idle bot at ${hi} bots, no forced GC`,
    perBot("host", "rss") <= PER_BOT_TARGET_KB,
    `${fmt(perBot("host", "rss"))} KB/bot (baseline ${fmt(perBot("baseline", "rss"))}); after GC ${fmt(perBot("host", "rssGc"))} KB/bot (baseline ${fmt(perBot("baseline", "rssGc"))})`,
  );
});

/** The median of 3 samples 250 ms apart: RSS and heap in use, after 3 forced GCs when `gc`. */
async function samples(w, gc) {
  const xs = [];
  for (let i = 0; i < 3; i++) {
    xs.push(await w.stats({ gc }));
    await sleep(250);
  }
  const mid = xs.find((s) => s.rss === median(xs.map((x) => x.rss)));
  return { rss: mid.rss, heap: median(xs.map((s) => s.heapUsed)), spaces: mid.spaces };
}

/**
 * Where the RSS of `n` idle bots goes, as sampled (no forced GC): RAM held by each V8 heap space (physical
 * size; the young generation is V8's own sizing, grown while the start's objects survived, and shrunk only by
 * V8's memory reducer), and the rest of the RSS: pages mapped from files, and native memory.
 */
function fixedProfile(results, n) {
  const parts = [
    ["young generation (new space)", (s) => s.new],
    ["old space (live objects and garbage)", (s) => s.old],
    ["code space", (s) => s.code],
    ["large objects", (s) => s.large_object + s.new_large_object + s.code_large_object],
    [
      "other V8 spaces",
      (s) => s.read_only + (s.shared ?? 0) + (s.shared_large_object ?? 0) + (s.trusted ?? 0) + (s.trusted_large_object ?? 0),
    ],
  ];
  const rows = [["part of the RSS (MB)", "baseline", "host", "host - baseline"]];
  const b = results.baseline[n];
  const h = results.host[n];
  const heapOf = (p) => parts.reduce((sum, [, f]) => sum + (f(p.spaces) || 0), 0);
  for (const [name, f] of parts)
    rows.push([name, fmt(MB(f(b.spaces) || 0)), fmt(MB(f(h.spaces) || 0)), fmt(MB((f(h.spaces) || 0) - (f(b.spaces) || 0)))]);
  const outside = (p) => p.rss - heapOf(p);
  const row = (name, f) => rows.push([name, fmt(MB(f(b))), fmt(MB(f(h))), fmt(MB(f(h) - f(b)))]);
  if (Number.isFinite(b.spaces.rssFile) && Number.isFinite(h.spaces.rssFile)) {
    row("outside the V8 heap: mapped files (node binary, libraries)", (p) => p.spaces.rssFile);
    row("outside the V8 heap: the rest (native allocations, stacks)", (p) => outside(p) - p.spaces.rssFile);
  } else {
    row("outside the V8 heap", outside);
  }
  rows.push(["RSS", fmt(MB(b.rss)), fmt(MB(h.rss)), fmt(MB(h.rss - b.rss))]);
  table(`where the RSS of ${n} idle bots goes, as sampled (run with the median RSS)`, rows);
}
