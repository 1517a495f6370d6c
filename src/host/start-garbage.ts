import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { operatorSetsFlag, releaseWithin } from "./v8-flags.js";

const GROWTH_FLAG = "--semi-space-growth-factor";
/** V8's own value of {@link GROWTH_FLAG} (in every Node release since 12). */
const V8_GROWTH_FACTOR = 2;

/**
 * How long a start may keep the young generation small. A cold start of 1,000 bots (1.7 s here) is over within it.
 * A start of 10,000 bots allocates about 1.5 GB: held throughout, it took 14.1 to 14.5 s here, against 9.9 s with this
 * bound; a bound of one second took 1,000 idle bots from 90 to 127 MB of RSS (BENCHMARKS.md, "Scale").
 */
export const YOUNG_GENERATION_HOLD_MAX_MS = 3_000;

/**
 * Keeps V8's young generation at its initial size (1 MB per semi-space) while the process starts, and returns what
 * lets it grow again, to be called once the bots are up; it may grow again by itself `maxMs` after this call (later
 * if the event loop is busy then), so a long start of many bots does not run on the smallest young generation.
 * Loading the host's modules and starting its bots keeps enough objects alive across scavenges that V8 grows the
 * young generation to 8 MB per semi-space, and only its memory reducer, once it judges the process idle (16 to 24 s
 * after a start here), gives that back: an idle host held about 13 MB of RSS more than it needs. Under load
 * afterwards the young generation grows as V8 sees fit, so throughput does not pay for this. V8 reads the growth
 * factor each time it considers growing, so setting it now takes effect at once. An operator's own
 * `--semi-space-growth-factor` on the node command line is left alone.
 */
export function holdYoungGeneration(maxMs: number = YOUNG_GENERATION_HOLD_MAX_MS): () => void {
  if (operatorSetsFlag(GROWTH_FLAG)) return () => {};
  try {
    setFlagsFromString(`${GROWTH_FLAG}=1`);
  } catch {
    return () => {};
  }
  return releaseWithin(() => setFlagsFromString(`${GROWTH_FLAG}=${V8_GROWTH_FACTOR}`), maxMs);
}

/**
 * Collects what starting the bots left behind, once they are up. A start allocates far more than it keeps (at
 * 10,000 bots about 1.5 GB in all, 55 MB of it live: configs parsed, Redis replies, log lines), and with almost no
 * allocation afterwards V8 leaves the rest in the heap until its memory reducer gets to it, about half a minute
 * later: until then the process holds hundreds of MB it does not use, and that late collection is then the idle
 * process's largest CPU cost. Three full collections right after the start cost about 120-180 ms at 10,000 bots instead
 * (the event loop waits that long, once), and the pages are handed back to the system within a second. Returns how long it took (ms), or undefined when the
 * collector could not be reached.
 */
export function collectStartGarbage(): number | undefined {
  try {
    setFlagsFromString("--expose-gc");
    // The flag applies to contexts created from now on: a fresh one has `gc`.
    const gc: unknown = runInNewContext("gc");
    if (typeof gc !== "function") return undefined;
    const t0 = performance.now();
    // V8 shrinks the heap by what the previous collection found: the second and third hand the pages back.
    for (let i = 0; i < 3; i++) gc();
    return performance.now() - t0;
  } catch {
    return undefined;
  }
}
