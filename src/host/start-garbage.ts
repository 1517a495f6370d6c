import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

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
