// Summarizes a sampled allocation profile (BENCH_HEAP_PROFILE, see bench/lib/worker.mjs): bytes allocated by
// function (with its caller) and by origin, garbage included, so it shows what keeps the GC busy.
//   node bench/lib/heap-summary.mjs /tmp/tp-host.heapprofile [--top 30]
import { readFileSync } from "node:fs";

const files = process.argv.slice(2).filter((a) => a.endsWith(".heapprofile"));
const topIdx = process.argv.indexOf("--top");
const TOP = topIdx > 0 ? Number(process.argv[topIdx + 1]) : 30;
const short = (url, line) =>
  url === ""
    ? "(native)"
    : `${url
        .replace(/^file:\/\/.*?\/node_modules\//, "")
        .replace(/^file:\/\/.*?\/dist\/src\//, "src/")
        .replace(/^file:\/\/.*?\/bench\//, "bench/")}:${line + 1}`;
const origin = (url) =>
  /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ??
  (/\/dist\/src\/(.+?)\.js$/.exec(url)?.[1]
    ? `bot-host: src/${/\/dist\/src\/(.+?)\.js$/.exec(url)[1]}.ts`
    : url.startsWith("node:")
      ? `node:${url.slice(5)}`
      : url || "(native)");

for (const file of files) {
  const { head } = JSON.parse(readFileSync(file, "utf8"));
  const fns = new Map();
  const origins = new Map();
  let total = 0;
  const walk = (node, parent) => {
    const { functionName, url, lineNumber } = node.callFrame;
    if (node.selfSize > 0) {
      total += node.selfSize;
      // A native or Node-internal allocator is named with its nearest caller outside Node's internals.
      let up = parent;
      while (up && (up.node.callFrame.url === "" || up.node.callFrame.url.startsWith("node:")) && up.parent) up = up.parent;
      const self = `${functionName || "(anonymous)"} ${short(url, lineNumber)}`;
      const key =
        (url === "" || url.startsWith("node:")) && up
          ? `${self} <- ${up.node.callFrame.functionName || "(anonymous)"} ${short(up.node.callFrame.url, up.node.callFrame.lineNumber)}`
          : self;
      fns.set(key, (fns.get(key) ?? 0) + node.selfSize);
      const o = origin(url === "" && up ? up.node.callFrame.url : url);
      origins.set(o, (origins.get(o) ?? 0) + node.selfSize);
    }
    for (const c of node.children ?? []) walk(c, { node, parent });
  };
  walk(head, undefined);
  const mb = (b) => `${(b / 2 ** 20).toFixed(1).padStart(8)} MB ${((100 * b) / total).toFixed(1).padStart(5)}%`;
  process.stdout.write(`\n${file}: ${(total / 2 ** 20).toFixed(0)} MB sampled\n\n  by origin:\n`);
  for (const [k, b] of [...origins].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`  ${mb(b)}  ${k}\n`);
  process.stdout.write(`\n  top ${TOP} allocation sites:\n`);
  for (const [k, b] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${mb(b)}  ${k}\n`);
}
