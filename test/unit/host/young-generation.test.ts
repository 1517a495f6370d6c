import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const MODULE = resolve(import.meta.dirname, "../../../dist/src/host/start-garbage.js");

// In a process of its own: the flag is process-wide, and the young generation of a test worker has long grown.
// Each phase allocates 300 MB in batches that survive a few scavenges (as a start's objects do), then reports
// the size of V8's new space.
const SCRIPT = `
import { getHeapSpaceStatistics } from "node:v8";
const { holdYoungGeneration } = await import(${JSON.stringify(MODULE)});
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;
const churn = () => {
  const kept = [];
  let batch = [];
  for (let i = 0; i < 3e6; i++) {
    batch.push({ i, s: "x" + i });
    if (batch.length === 2000) { kept.push(batch); batch = []; if (kept.length > 50) kept.shift(); }
  }
};
const release = holdYoungGeneration();
churn();
const held = newSpace();
release();
churn();
console.log(JSON.stringify({ held, released: newSpace() }));
`;

// The hold lets the young generation grow by itself after maxMs. Node fires timers in the order they fall due, so
// the 20 ms timer runs after the hold's 10 ms one on any machine.
const TIMED = SCRIPT.replace(
  /const release = [^]*$/,
  `holdYoungGeneration(10);
await new Promise((resolve) => setTimeout(resolve, 20));
churn();
console.log(JSON.stringify({ afterMaxMs: newSpace() }));
`,
);

describe("holdYoungGeneration", () => {
  it("keeps V8's young generation at its initial size while held, and lets it grow once released", () => {
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", SCRIPT], { encoding: "utf8" });
    expect(out.stderr).toBe("");
    const { held, released } = JSON.parse(out.stdout) as { held: number; released: number };
    expect(held).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(released).toBeGreaterThan(held);
  });

  it("lets the young generation grow by itself once the start has run for maxMs", () => {
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", TIMED], { encoding: "utf8" });
    expect(out.stderr).toBe("");
    const { afterMaxMs } = JSON.parse(out.stdout) as { afterMaxMs: number };
    expect(afterMaxMs).toBeGreaterThan(4 * 1024 * 1024);
  });

  it("leaves an operator's own growth factor alone", () => {
    const out = spawnSync(process.execPath, ["--semi-space-growth-factor=2", "--input-type=module", "-e", SCRIPT], { encoding: "utf8" });
    const { held } = JSON.parse(out.stdout) as { held: number };
    expect(held).toBeGreaterThan(4 * 1024 * 1024);
  });
});
