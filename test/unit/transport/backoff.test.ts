import { describe, expect, it } from "vitest";
import { backoffDelay, sleep } from "../../../src/transport/backoff.js";

describe("backoff", () => {
  it("grows exponentially with jitter and is capped", () => {
    expect(backoffDelay(0, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(30, 100, 10_000, () => 1)).toBe(10_000);
    expect(backoffDelay(30, 100, 10_000, () => 0)).toBe(5_000);
  });

  it("sleep rejects as soon as its signal aborts", async () => {
    const ctl = new AbortController();
    const p = sleep(60_000, ctl.signal);
    ctl.abort(new Error("stopped"));
    await expect(p).rejects.toThrow("stopped");
  });
});
