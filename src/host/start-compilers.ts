import { setFlagsFromString } from "node:v8";
import { operatorSetsFlag, releaseWithin } from "./v8-flags.js";

/**
 * V8 flags that, given by the operator (on the node command line; `--jitless` also in `NODE_OPTIONS`), mean they chose
 * how JavaScript is optimized.
 */
const JS_FLAGS = ["--turbofan", "--opt", "--jitless", "--always-turbofan", "--always-opt"];
/** The same for WebAssembly's tiers. */
const WASM_FLAGS = ["--liftoff-only", "--liftoff", "--wasm-tier-up", "--wasm-dynamic-tiering", "--jitless"];

/**
 * How long a start may run without V8's optimizing compilers. Measured (BENCHMARKS.md, "Memory of idle bots"): 300 and
 * 1,000 bots start faster without them (a start is mostly run once, and their jobs took the second core), while a
 * start of 10,000 bots took 10.4 s without them against 6.8 s with them.
 */
export const COMPILER_HOLD_MAX_MS = 1_000;

/**
 * Keeps V8's optimizing compilers out of the start, and returns what lets them back in, to be called once the bots
 * are up; they come back by themselves `maxMs` after this call, or later if the event loop is busy then (a start that
 * runs longer needs them). While held, JavaScript runs on V8's interpreter and baseline compiler (no TurboFan), and
 * WebAssembly compiled meanwhile stays on its baseline compiler (Liftoff) for good: V8 fixes a module's tiers when it
 * compiles it. That is undici's HTTP parser (llhttp), compiled at the shared transport's first call. TurboFan's
 * compile jobs run on V8's worker threads, and the memory they take from malloc stays in those threads' arenas once
 * freed: after a start of 10 idle bots that was 0 to 10 MB of RSS, depending on which thread ran which job, most of
 * it from tiering llhttp up. What is hot under load afterwards, and WebAssembly compiled after the start, are
 * optimized as usual. An operator who gives V8 one of these flags (`--turbofan`, `--opt`, `--liftoff-only`,
 * `--wasm-tier-up`, ..., or their `--no-` forms; `--jitless` for both) keeps that choice: the host then leaves that
 * compiler alone. V8's mid-tier compiler, Maglev, is not held: it is off in Node 20, and JavaScript cannot read
 * whether a newer Node has it on, so undoing a hold could not restore it.
 */
export function holdOptimizingCompilers(maxMs: number = COMPILER_HOLD_MAX_MS): () => void {
  const restore: string[] = [];
  const hold = (flag: string, undo: readonly string[], operatorFlags: readonly string[]) => {
    if (operatorFlags.some(operatorSetsFlag)) return;
    setFlagsFromString(flag);
    restore.push(...undo);
  };
  hold("--no-turbofan", ["--turbofan"], JS_FLAGS);
  // `--liftoff-only` also turns wasm's tier-up off (a V8 flag implication), and undoing it does not turn that back on:
  // without the last two, no wasm module compiled after the start would ever reach TurboFan.
  hold("--liftoff-only", ["--no-liftoff-only", "--wasm-tier-up", "--wasm-dynamic-tiering"], WASM_FLAGS);
  return releaseWithin(() => {
    for (const flag of restore) setFlagsFromString(flag);
  }, maxMs);
}
