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
