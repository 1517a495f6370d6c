// What each dependency of bot-host costs in memory and start time, on top of what the baseline (plain grammY +
// runner) loads anyway: every set of modules is imported in a fresh process, and each dependency is measured
// by leaving it out of the full set (the saving if it were gone; modules share Node's own builtins, so the
// sum of the savings is less than the whole).
//   node bench/lib/module-cost.mjs [--runs 5] [--swap undici=undici/lib/dispatcher/agent.js ...]
// --swap NAME=SPEC[,SPEC...] measures the set of every dependency with those specifiers in place of NAME as well
// (a lighter entry point, or a lighter library). Figures per set, median of --runs processes: RSS 500 ms after the imports (no GC), the
// V8 young generation then (V8 grows it while the imports' objects survive; it shrinks only when V8's memory
// reducer runs, seconds later), the heap in use after 3 forced GCs, and the import time.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fmt, MB, median, ROOT, table } from "./common.mjs";

const argv = process.argv.slice(2);
const RUNS = Number(argv[argv.indexOf("--runs") + 1] || 5);
const SWAPS = argv.flatMap((a, i) => (argv[i - 1] === "--swap" ? [a.split("=")] : []));

/** What the baseline side loads. */
const BASE = ["grammy", "@grammyjs/runner"];
/** bot-host's dependencies (package.json), less what the baseline loads anyway. */
const DEPS = Object.keys(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies).filter((d) => !BASE.includes(d));
/** bot-host's own modules that `start` loads (they import every dependency above). */
const OWN = ["host/host.js", "config/index.js", "logging/logger.js"].map((f) => join(ROOT, "dist/src", f));

const PROBE = `
const t0 = performance.now();
for (const s of JSON.parse(process.argv[1])) await import(s);
const ms = performance.now() - t0;
await new Promise((r) => setTimeout(r, 500));
const { getHeapSpaceStatistics } = await import("node:v8");
const young = getHeapSpaceStatistics().find((s) => s.space_name === "new_space").physical_space_size;
const rss = process.memoryUsage.rss();
for (let i = 0; i < 3; i++) gc();
const m = process.memoryUsage();
process.stdout.write(JSON.stringify({ ms, rss, young, rssGc: m.rss, heapGc: m.heapUsed }));
`;

function measure(specs) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", PROBE, JSON.stringify(specs)], {
      cwd: ROOT,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`importing ${specs.join(", ")} failed: ${r.stderr}`);
    runs.push(JSON.parse(r.stdout));
  }
  return Object.fromEntries(Object.keys(runs[0]).map((k) => [k, median(runs.map((x) => x[k]))]));
}

process.stdout.write(`\n=== module cost: ${RUNS} fresh process(es) per set, medians | Node ${process.version}\n`);
const base = measure(BASE);
const deps = measure([...BASE, ...DEPS]);
const all = measure([...BASE, ...DEPS, ...OWN]);
const cols = (x) => [fmt(MB(x.rss)), fmt(MB(x.young)), fmt(MB(x.rssGc)), fmt(MB(x.heapGc)), fmt(x.ms, 0)];
const diff = (a, b) => [
  fmt(MB(a.rss - b.rss)),
  fmt(MB(a.young - b.young)),
  fmt(MB(a.rssGc - b.rssGc)),
  fmt(MB(a.heapGc - b.heapGc)),
  fmt(a.ms - b.ms, 0),
];
const head = ["RSS (MB)", "young gen (MB)", "RSS after GC (MB)", "live heap (MB)", "import (ms)"];

table("what is loaded", [
  ["modules", ...head],
  [`baseline: ${BASE.join(", ")}`, ...cols(base)],
  ["+ every bot-host dependency", ...cols(deps)],
  ["+ bot-host's own modules (= what start loads)", ...cols(all)],
]);

const rows = [["left out of the full set", ...head.map((h) => `saves ${h}`)]];
for (const d of DEPS) rows.push([d, ...diff(deps, measure([...BASE, ...DEPS.filter((x) => x !== d)]))]);
rows.push(["bot-host's own modules (from every dependency loaded)", ...diff(all, deps)]);
rows.push(["everything start loads beyond the baseline", ...diff(all, base)]);
// bot-host's own modules import every dependency, so a dependency is left out of the dependency set alone.
table("leave one out: what the set of every dependency would save without each", rows);

if (SWAPS.length > 0) {
  const swapRows = [["swap", ...head.map((h) => `saves ${h}`)]];
  for (const [name, spec] of SWAPS) {
    const without = DEPS.filter((x) => x !== name);
    swapRows.push([
      `${name} -> ${spec}`,
      ...diff(measure([...BASE, ...without, name]), measure([...BASE, ...without, ...spec.split(",")])),
    ]);
  }
  table("lighter entry points or libraries: the full dependency set with each swapped", swapRows);
}
