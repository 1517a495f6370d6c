import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const MODULE = resolve(import.meta.dirname, "../../../dist/src/host/start-compilers.js");

// In a process of its own (the flags are process-wide), with V8's test natives to read a function's tier. A wasm
// function compiled while the compilers are held and one compiled after release both run hot; so does a JS function.
// Every wait is for a state (a tier reached), with a deadline (20 s, inside the test's timeout) far above any
// machine's need. Wasm compiles lazily: a function is on Liftoff only once it was first called.
const SCRIPT = `
const { holdOptimizingCompilers } = await import(${JSON.stringify(MODULE)});
// (func (export name) (param i32) (result i32)): the sum of i*i for i below the param, a loop to make it hot. Each
// module exports its own one-letter name: V8 shares the compiled code of modules with the same bytes.
const wasm = (name) => new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([0,97,115,109,1,0,0,0,1,6,1,96,
  1,127,1,127,3,2,1,0,7,5,1,1,name.charCodeAt(0),0,0,10,35,1,33,2,1,127,1,127,3,64,32,2,32,1,32,1,108,106,33,2,32,1,65,
  1,106,34,1,32,0,72,13,0,11,32,2,11]))).exports[name];
function hot(x) { let s = 0; for (let i = 0; i < 100; i++) s += (x * i) % 7; return s; }
const NEVER_OPTIMIZE = 2, TURBOFANNED = 64;
const deadline = Date.now() + 20_000;
// Runs work() until done() holds or the deadline passes; returns how many rounds it took, or -1.
const until = (done, work) => { let n = 0; while (!done()) { if (Date.now() > deadline) return -1; for (let i = 0; i < 100; i++) work(); n++; } return n; };
let sink = 0;

const release = holdOptimizingCompilers();
for (let i = 0; i < 1e5; i++) sink += hot(i);
const heldStatus = %GetOptimizationStatus(hot);
const early = wasm("e");
for (let i = 0; i < 2e4; i++) sink += early(1000);
const earlyLiftoffWhileHeld = %IsLiftoffFunction(early);
release();
const jsRounds = until(() => (%GetOptimizationStatus(hot) & TURBOFANNED) !== 0, () => (sink += hot(sink & 1023)));
const late = wasm("l");
late(1);
const lateLiftoffAtFirst = %IsLiftoffFunction(late);
const lateRounds = until(() => !%IsLiftoffFunction(late), () => (sink += late(1000)));
// The early module gets at least as many calls as made the late one tier up; where it is expected to tier up (the
// operator chose the compilers), it runs until it does.
for (let i = 0; i < 100 * Math.max(lateRounds, 200); i++) sink += early(1000);
if (process.argv.includes("expect-early-tier-up")) until(() => !%IsLiftoffFunction(early), () => (sink += early(1000)));
console.log(JSON.stringify({
  neverOptimizeWhileHeld: (heldStatus & NEVER_OPTIMIZE) !== 0,
  earlyLiftoffWhileHeld,
  jsRounds,
  lateLiftoffAtFirst,
  lateRounds,
  earlyLiftoffAfter: %IsLiftoffFunction(early),
  sink: sink !== 0,
}));
`;

// The hold lets the compilers back in by itself after maxMs. Node fires timers in the order they fall due, so the
// 20 ms timer runs after the hold's 10 ms one on any machine.
const TIMED = `
const { holdOptimizingCompilers } = await import(${JSON.stringify(MODULE)});
function f() { return 1; }
holdOptimizingCompilers(10);
const held = (%GetOptimizationStatus(f) & 2) !== 0;
await new Promise((resolve) => setTimeout(resolve, 20));
console.log(JSON.stringify({ held, after: (%GetOptimizationStatus(f) & 2) !== 0 }));
`;

type Result = {
  neverOptimizeWhileHeld: boolean;
  earlyLiftoffWhileHeld: boolean;
  jsRounds: number;
  lateLiftoffAtFirst: boolean;
  lateRounds: number;
  earlyLiftoffAfter: boolean;
  sink: boolean;
};

function run(nodeFlags: string[], args: string[] = []): Result {
  const argv = ["--allow-natives-syntax", ...nodeFlags, "--input-type=module", "-e", SCRIPT, ...args];
  const out = spawnSync(process.execPath, argv, { encoding: "utf8" });
  expect(out.stderr).toBe("");
  return JSON.parse(out.stdout) as Result;
}

describe("holdOptimizingCompilers", () => {
  it("keeps TurboFan out while held, lets it back in once released, and leaves wasm compiled meanwhile on Liftoff", () => {
    const r = run([]);
    expect(r.neverOptimizeWhileHeld).toBe(true);
    expect(r.earlyLiftoffWhileHeld).toBe(true);
    // Released: the hot JS function and a wasm module compiled now (on Liftoff at first) reach TurboFan.
    expect(r.jsRounds).toBeGreaterThanOrEqual(0);
    expect(r.lateLiftoffAtFirst).toBe(true);
    expect(r.lateRounds).toBeGreaterThanOrEqual(0);
    // The module compiled while held stays on Liftoff for good, as undici's HTTP parser does.
    expect(r.earlyLiftoffAfter).toBe(true);
    expect(r.sink).toBe(true);
  });

  it("lets the compilers back in by itself once the start has run for maxMs", () => {
    const out = spawnSync(process.execPath, ["--allow-natives-syntax", "--input-type=module", "-e", TIMED], { encoding: "utf8" });
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout)).toEqual({ held: true, after: false });
  });

  it("leaves alone the compilers an operator chose on the node command line", () => {
    const r = run(["--turbofan", "--no-liftoff-only"], ["expect-early-tier-up"]);
    expect(r.neverOptimizeWhileHeld).toBe(false);
    expect(r.earlyLiftoffAfter).toBe(false);
    expect(r.jsRounds).toBeGreaterThanOrEqual(0);
    expect(r.lateRounds).toBeGreaterThanOrEqual(0);
  });
});
