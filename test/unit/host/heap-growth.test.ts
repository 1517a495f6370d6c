import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const MODULE = resolve(import.meta.dirname, "../../../dist/src/host/heap-growth.js");

// In a process of its own: the flag is process-wide. A live set of some 25 MB turns over as a backlog's updates do:
// each batch lives through many scavenges, is promoted, then dies in the old space. Reports whether the cap was set
// and the largest old space seen once the turnover is steady.
const SCRIPT = `
import { getHeapSpaceStatistics } from "node:v8";
const { limitHeapGrowth } = await import(${JSON.stringify(MODULE)});
const set = limitHeapGrowth();
const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "old_space").space_size;
const kept = [];
let peak = 0;
for (let i = 0; i < 600; i++) {
  const batch = [];
  for (let j = 0; j < 5000; j++) batch.push({ j, s: "x" + i + ":" + j });
  kept.push(batch);
  if (kept.length > 50) kept.shift();
  if (i >= 200) peak = Math.max(peak, oldSpace());
}
console.log(JSON.stringify({ set, peak }));
`;

function run(nodeFlags: string[]): { set: boolean; peak: number } {
  const out = spawnSync(process.execPath, [...nodeFlags, "--input-type=module", "-e", SCRIPT], { encoding: "utf8" });
  expect(out.stderr).toBe("");
  return JSON.parse(out.stdout) as { set: boolean; peak: number };
}

describe("limitHeapGrowth", () => {
  it("keeps the old space of a turning-over heap well below where V8's own rule lets it grow", () => {
    const capped = run([]);
    // An operator's own value is left alone: 300% is about where V8's own rule goes under this churn.
    const operators = run(["--heap-growing-percent=300"]);
    expect(capped.set).toBe(true);
    expect(operators.set).toBe(false);
    expect(capped.peak).toBeLessThan(operators.peak * 0.75);
  });

  it("recognizes the operator's flag spelled with underscores", () => {
    expect(run(["--heap_growing_percent=300"]).set).toBe(false);
  });
});
