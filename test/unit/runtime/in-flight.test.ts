import { describe, expect, it } from "vitest";
import { InFlightTracker } from "../../../src/runtime/in-flight.js";

describe("InFlightTracker", () => {
  it("resolves idle() only when the last update finished", async () => {
    const t = new InFlightTracker();
    let idleAtOnce = false;
    void t.idle().then(() => (idleAtOnce = true));
    await new Promise((r) => setTimeout(r, 0));
    expect(idleAtOnce).toBe(true);
    t.add(1);
    t.add(2);
    let idle = false;
    const p = t.idle().then(() => (idle = true));
    t.delete(1);
    await Promise.resolve();
    expect(idle).toBe(false);
    expect(t.snapshot()).toEqual([2]);
    t.delete(2);
    await p;
    expect(idle).toBe(true);
    expect(t.size).toBe(0);
  });
});
