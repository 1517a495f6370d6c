import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const MODULE = resolve(import.meta.dirname, "../../../dist/src/host/v8-flags.js");

// The underscore spelling is checked through limitHeapGrowth in heap-growth.test.ts.
describe("operatorSetsFlag", () => {
  it("reads the operator's flags from NODE_OPTIONS too (Node takes --jitless there), and their --no- and --no forms", () => {
    const script = `const { operatorSetsFlag } = await import(${JSON.stringify(MODULE)});
      console.log(JSON.stringify(["--jitless", "--turbofan", "--wasm-tier-up", "--liftoff-only"].map(operatorSetsFlag)));`;
    const out = spawnSync(process.execPath, ["--no-turbofan", "--nowasm-tier-up", "--input-type=module", "-e", script], {
      encoding: "utf8",
      env: { ...process.env, NODE_OPTIONS: "--jitless" },
    });
    expect(JSON.parse(out.stdout)).toEqual([true, true, true, false]);
  });
});

describe("releaseWithin", async () => {
  const { releaseWithin } = (await import(MODULE)) as { releaseWithin: (undo: () => void, maxMs: number) => () => void };
  // Node fires timers in the order they fall due: the 20 ms wait ends after a 10 ms release on any machine.
  const after20ms = () => new Promise((resolve) => setTimeout(resolve, 20));

  it("runs undo once when called, and not again when its time is up", async () => {
    let runs = 0;
    const release = releaseWithin(() => runs++, 10);
    release();
    release();
    await after20ms();
    expect(runs).toBe(1);
  });

  it("runs undo by itself once its time is up, and not again when called later", async () => {
    let runs = 0;
    const release = releaseWithin(() => runs++, 10);
    await after20ms();
    expect(runs).toBe(1);
    release();
    expect(runs).toBe(1);
  });
});
