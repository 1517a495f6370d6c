import { setFlagsFromString } from "node:v8";
import { operatorSetsFlag } from "./heap-growth.js";

/** V8 flags that, given on the node command line, mean the operator chose how JavaScript is optimized. */
const JS_FLAGS = ["--turbofan", "--opt", "--jitless", "--always-turbofan", "--always-opt"];
/** The same for WebAssembly's tiers. */
const WASM_FLAGS = ["--liftoff-only", "--liftoff", "--wasm-tier-up", "--wasm-dynamic-tiering", "--jitless"];

/**
 * How long a start may run without V8's optimizing compilers. Measured (BENCHMARKS.md, "Memory of idle bots"): 10 and
 * 1,000 bots start faster without them (a start is mostly run once, and their jobs took the second core), while a
 * start of 10,000 bots took 10.4 s without them against 6.8 s with them.
 */
export const COMPILER_HOLD_MAX_MS = 1_000;

/**
 * Keeps V8's optimizing compilers out of the start, and returns what lets them back in, to be called once the bots
 * are up; they come back by themselves after `maxMs` (a start that runs longer needs them). While held, JavaScript
 * runs on V8's interpreter and baseline compiler (no TurboFan), and WebAssembly compiled meanwhile stays on its
 * baseline compiler (Liftoff) for good: V8 fixes a module's tiers when it compiles it. That is undici's HTTP parser
 * (llhttp), compiled at the shared transport's first call. TurboFan's compile jobs run on V8's worker threads, and the
 * memory they take from malloc stays in those threads' arenas once freed: after a start of 10 idle bots that was 0 to
 * 10 MB of RSS, depending on which thread ran which job, most of it from tiering llhttp up. What is hot under load
 * afterwards is optimized as usual. An operator who gives V8 one of these flags on the node command line
 * (`--turbofan`, `--opt`, `--liftoff-only`, `--wasm-tier-up`, ..., or their `--no-` forms) keeps that choice: the
 * host then leaves that compiler alone.
 */
export function holdOptimizingCompilers(maxMs: number = COMPILER_HOLD_MAX_MS): () => void {
  const restore: string[] = [];
  const hold = (flag: string, undo: string, operatorFlags: readonly string[]) => {
    if (operatorFlags.some(operatorSetsFlag)) return;
    try {
      setFlagsFromString(flag);
      restore.push(undo);
    } catch {
      // A Node without the flag keeps its own compilers: nothing to restore.
    }
  };
  hold("--no-turbofan", "--turbofan", JS_FLAGS);
  hold("--liftoff-only", "--no-liftoff-only", WASM_FLAGS);
  const release = () => {
    clearTimeout(timer);
    for (const flag of restore.splice(0)) setFlagsFromString(flag);
  };
  const timer = setTimeout(release, maxMs);
  timer.unref();
  return release;
}
