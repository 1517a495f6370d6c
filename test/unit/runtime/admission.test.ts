import { describe, expect, it } from "vitest";
import { Admission } from "../../../src/runtime/admission.js";

describe("Admission (global in-flight cap)", () => {
  it("admits up to the capacity and makes the rest wait, first come first served", async () => {
    const a = new Admission(5);
    await a.acquire(3);
    expect(a.inFlight).toBe(3);
    expect(a.free).toBe(2);
    const order: string[] = [];
    const big = a.acquire(4).then(() => order.push("big"));
    const small = a.acquire(1).then(() => order.push("small"));
    await Promise.resolve();
    expect(order).toEqual([]); // small must not overtake big although 2 are free
    a.release(2);
    await Promise.resolve();
    expect(order).toEqual(["big"]);
    expect(a.inFlight).toBe(5);
    a.release(1);
    await Promise.all([big, small]);
    expect(order).toEqual(["big", "small"]);
    expect(a.inFlight).toBe(5);
  });

  it("never takes more than the capacity for one request", async () => {
    const a = new Admission(2);
    await a.acquire(10);
    expect(a.inFlight).toBe(2);
  });

  it("rejects a waiting acquire when its signal aborts, taking nothing, and lets the next waiter in", async () => {
    const a = new Admission(1);
    await a.acquire(1);
    const ctl = new AbortController();
    const aborted = a.acquire(1, ctl.signal);
    const next = a.acquire(1);
    ctl.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    a.release(1);
    await next;
    expect(a.inFlight).toBe(1);
  });
});
