import { describe, expect, it } from "vitest";
import { RateWindow } from "../../../src/transport/rate-window.js";

/** The window's private bookkeeping, to check compaction. */
function internals(w: RateWindow): { anchors: number[]; head: number; pending: number } {
  return w as unknown as { anchors: number[]; head: number; pending: number };
}

describe("RateWindow.of", () => {
  it("turns whole rates per second into that many calls per second", () => {
    const w = RateWindow.of(30, 1000);
    expect(w.count).toBe(30);
    expect(w.ms).toBe(1000);
    const one = RateWindow.of(1, 1000);
    expect(one.count).toBe(1);
    expect(one.ms).toBe(1000);
  });

  it("turns a rate below one into one call per longer window", () => {
    const half = RateWindow.of(0.5, 1000);
    expect(half.count).toBe(1);
    expect(half.ms).toBe(2000);
    const quarterPerMinute = RateWindow.of(0.25, 60_000);
    expect(quarterPerMinute.count).toBe(1);
    expect(quarterPerMinute.ms).toBe(240_000);
  });

  it("floors the count of a fractional rate and stretches the window to keep the rate", () => {
    const w = RateWindow.of(2.5, 1000);
    expect(w.count).toBe(2);
    expect(w.ms).toBe(800);
    const w2 = RateWindow.of(1.5, 1000);
    expect(w2.count).toBe(1);
    expect(w2.ms).toBe(1000 / 1.5);
  });

  it("keeps per-minute rates per minute", () => {
    const w = RateWindow.of(20, 60_000);
    expect(w.count).toBe(20);
    expect(w.ms).toBe(60_000);
  });
});

describe("RateWindow", () => {
  it("is ready at once and clear at once while empty", () => {
    const w = new RateWindow(2, 1000);
    expect(w.readyAt(5)).toBe(5);
    expect(w.clearAt(5)).toBe(5);
  });

  it("counts a call still waiting for its answer as just sent", () => {
    const w = new RateWindow(2, 1000);
    w.take();
    expect(w.readyAt(10)).toBe(10);
    w.take();
    // Both slots are out and neither is anchored: no time is known yet.
    expect(w.readyAt(10)).toBe(Infinity);
    expect(w.readyAt(1_000_000)).toBe(Infinity);
    expect(w.clearAt(10)).toBe(Infinity);
  });

  it("frees a slot `ms` after the answer of the oldest anchored call, not after its send", () => {
    const w = new RateWindow(2, 1000);
    w.take();
    w.take();
    w.settle(100);
    // One anchored at 100, one still out: the slot of the anchored one frees at 1100.
    expect(w.readyAt(150)).toBe(1100);
    expect(w.clearAt(150)).toBe(Infinity);
    w.settle(300);
    expect(w.readyAt(300)).toBe(1100);
    expect(w.readyAt(1099)).toBe(1100);
    expect(w.readyAt(1099.5)).toBe(1100);
    // An anchor expires exactly `ms` after it.
    expect(w.readyAt(1100)).toBe(1100);
    expect(w.readyAt(1200)).toBe(1200);
    expect(w.clearAt(1200)).toBe(1300);
    expect(w.clearAt(1300)).toBe(1300);
    expect(w.clearAt(5000)).toBe(5000);
  });

  it("with count 1 waits for the answer and then `ms`", () => {
    const w = new RateWindow(1, 1000);
    w.take();
    expect(w.readyAt(0)).toBe(Infinity);
    w.settle(250);
    expect(w.readyAt(250)).toBe(1250);
    expect(w.clearAt(250)).toBe(1250);
    expect(w.readyAt(1250)).toBe(1250);
  });

  it("needs the `over`-th oldest anchor to expire when several slots are over", () => {
    const w = new RateWindow(3, 1000);
    for (let i = 0; i < 5; i++) w.take();
    w.settle(10);
    w.settle(20);
    w.settle(30);
    w.settle(40);
    // Four anchored, one out: 4 + 1 - 3 + 1 = 3 anchors must expire, the third is at 30.
    expect(w.readyAt(50)).toBe(1030);
    w.settle(60);
    // Five anchored: 5 - 3 + 1 = 3 must expire, the third is still at 30.
    expect(w.readyAt(60)).toBe(1030);
    // At 1015 the anchor at 10 has expired: 4 left, 2 must expire, the second of the rest is at 30.
    expect(w.readyAt(1015)).toBe(1030);
    // At 1030 three have expired (10, 20, 30): two left, one slot free.
    expect(w.readyAt(1030)).toBe(1030);
    expect(w.clearAt(1030)).toBe(1060);
  });

  it("keeps answering after a period of calls in steady flow", () => {
    const w = new RateWindow(2, 100);
    const sent: number[] = [];
    let now = 0;
    for (let i = 0; i < 6; i++) {
      now = w.readyAt(now);
      sent.push(now);
      w.take();
      w.settle(now + 5);
    }
    // Two per 100 ms, each window counted from the answer (5 ms after its send).
    expect(sent).toEqual([0, 0, 105, 105, 210, 210]);
  });
});

describe("RateWindow compaction", () => {
  function anchored(count: number, ms: number, times: number[]): RateWindow {
    const w = new RateWindow(count, ms);
    for (const t of times) {
      w.take();
      w.settle(t);
    }
    return w;
  }

  it("drops the expired anchors once more than 64 expired and they are over half", () => {
    const times = Array.from({ length: 100 }, (_, i) => i);
    const w = anchored(1000, 10, times);
    expect(internals(w).anchors).toHaveLength(100);
    expect(internals(w).head).toBe(0);
    // Anchors 0..70 expire at 80 (<= 80 - 10): head 71 > 64 and 71 * 2 > 100.
    expect(w.readyAt(80)).toBe(80);
    expect(internals(w).head).toBe(0);
    expect(internals(w).anchors).toEqual(times.slice(71));
    // What is left still counts: 30 anchored in the window, count 1000, so free; clear at 99 + 10.
    expect(w.clearAt(80)).toBe(109);
  });

  it("keeps the array while 64 or fewer have expired", () => {
    const w = anchored(
      1000,
      10,
      Array.from({ length: 80 }, (_, i) => i),
    );
    // At 73 the anchors 0..63 have expired: head 64, not over 64.
    w.readyAt(73);
    expect(internals(w).head).toBe(64);
    expect(internals(w).anchors).toHaveLength(80);
    // One more expires: head 65 > 64 and 130 > 80.
    w.readyAt(74);
    expect(internals(w).head).toBe(0);
    expect(internals(w).anchors).toEqual(Array.from({ length: 15 }, (_, i) => i + 65));
  });

  it("keeps the array while the expired ones are not over half of it", () => {
    const w = anchored(
      1000,
      10,
      Array.from({ length: 200 }, (_, i) => i),
    );
    w.readyAt(109); // 0..99 expire: head 100, 100 * 2 is not over 200
    expect(internals(w).head).toBe(100);
    expect(internals(w).anchors).toHaveLength(200);
    w.readyAt(110); // head 101: 202 > 200
    expect(internals(w).head).toBe(0);
    expect(internals(w).anchors).toHaveLength(99);
    expect(internals(w).anchors[0]).toBe(101);
  });

  it("computes the same times after compaction as before it", () => {
    // Count 3 in 1000 ms; 100 anchors settled 10 ms apart, so a later readyAt has to index past the head.
    const w = new RateWindow(3, 1000);
    for (let i = 0; i < 100; i++) {
      w.take();
      w.settle(i * 10);
    }
    // At 1700 anchors 0..700 (71 of them) expire and are compacted away; 29 remain (710..990).
    // 29 - 3 + 1 = 27 must expire: the 27th of 710, 720, ... is 970, free at 1970.
    expect(w.readyAt(1700)).toBe(1970);
    expect(internals(w).head).toBe(0);
    expect(internals(w).anchors).toHaveLength(29);
    expect(internals(w).anchors[0]).toBe(710);
    expect(w.readyAt(1701)).toBe(1970);
    w.take();
    expect(w.readyAt(1701)).toBe(1980);
    w.settle(1701);
    expect(w.readyAt(1701)).toBe(1980);
    expect(w.clearAt(1701)).toBe(2701);
  });
});
