// Summarizes .cpuprofile files (node --cpu-prof): the top functions by self time, and self time by origin
// (a package under node_modules, Node's internals, this repo's dist/src, the bench, the GC, idle).
//   node bench/lib/profile-summary.mjs bench/profiles/host-throughput.cpuprofile [--top 25]
import { readFileSync } from "node:fs";

const files = process.argv.slice(2).filter((a) => a.endsWith(".cpuprofile"));
const topIdx = process.argv.indexOf("--top");
const TOP = topIdx > 0 ? Number(process.argv[topIdx + 1]) : 25;

function origin(url, name) {
  if (name === "(garbage collector)" || name === "(program)" || name === "(idle)" || name === "(root)") return name;
  if (url === "") return "(native / builtin)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const src = /\/dist\/src\/(.+?)\.js$/.exec(url);
  if (src) return `bot-host: src/${src[1]}.ts`;
  const bench = /\/bench\/(.+)$/.exec(url);
  if (bench) return `bench/${bench[1]}`;
  return url.replace(/^file:\/\//, "");
}

/** A short file:line: the path inside node_modules, dist/src or the repo. */
function place(url, line) {
  const short = url
    .replace(/^file:\/\/.*?\/node_modules\//, "")
    .replace(/^file:\/\/.*?\/dist\/src\//, "src/")
    .replace(/^file:\/\/.*?\/bench\//, "bench/");
  return `${short}:${line + 1}`;
}

for (const file of files) {
  const p = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const self = new Map();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)").reduce((a, [, t]) => a + t, 0);
  const fns = new Map();
  const origins = new Map();
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const name = functionName || "(anonymous)";
    const where = origin(url, name);
    // Natives (writev, writeUtf8String, ...) are named with their first caller outside Node's internals.
    let up = url === "" && !name.startsWith("(") ? parent.get(id) : undefined;
    while (up !== undefined && (up.callFrame.url === "" || up.callFrame.url.startsWith("node:")) && parent.get(up.id)?.callFrame.url)
      up = parent.get(up.id);
    const caller = up?.callFrame;
    const key = caller
      ? `${name} <- ${caller.functionName || "(anonymous)"}  ${place(caller.url, caller.lineNumber)}`
      : `${name}  ${url ? place(url, lineNumber) : where}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
    origins.set(where, (origins.get(where) ?? 0) + t);
  }
  const busy = total - idle;
  const pct = (t) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const ms = (t) => `${(t / 1000).toFixed(0).padStart(7)} ms`;
  process.stdout.write(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)\n`);
  process.stdout.write(`\n  self time by origin:\n`);
  for (const [k, t] of [...origins]
    .filter(([k]) => k !== "(idle)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, 15))
    process.stdout.write(`  ${ms(t)} ${pct(t)}  ${k}\n`);
  process.stdout.write(`\n  top ${TOP} functions by self time:\n`);
  for (const [k, t] of [...fns]
    .filter(([k]) => !k.startsWith("(idle)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP))
    process.stdout.write(`  ${ms(t)} ${pct(t)}  ${k}\n`);
}
