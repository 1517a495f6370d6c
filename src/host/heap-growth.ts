import { setFlagsFromString } from "node:v8";
import { operatorSetsFlag } from "./v8-flags.js";

const FLAG = "--heap-growing-percent";

/**
 * How far V8's old generation may grow past what its last full collection kept alive before it collects again,
 * in per cent: to 1.7 times the live heap. V8's own rule lets it grow to up to four times under a high allocation
 * rate. Measured in `bench/backlog.mjs`: 100 left the peak at 150 MB, 50 cost more CPU per update and brought it
 * no lower than 70 did.
 */
export const HEAP_GROWING_PERCENT = 70;

/**
 * Caps how far the old generation grows between full collections at {@link HEAP_GROWING_PERCENT}. Under a backlog
 * every update in flight waits its turn long enough to survive the young generation's collections, so its objects
 * die in the old space; V8's own rule then lets the heap reach about four times what is live before it collects,
 * which is most of the peak RSS of a host working through a million pending updates (209 MB without this cap in
 * `bench/backlog.mjs`; BENCHMARKS.md has the figures with it and what it costs). V8 reads the value at each
 * collection, so setting it at run time takes effect at once. An operator's own `--heap-growing-percent` is left
 * alone (`=0` restores V8's rule). Returns whether the cap was set.
 */
export function limitHeapGrowth(): boolean {
  if (operatorSetsFlag(FLAG)) return false;
  try {
    setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`);
    return true;
  } catch {
    return false;
  }
}
