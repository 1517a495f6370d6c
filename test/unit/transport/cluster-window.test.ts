import type { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ClusterWindow } from "../../../src/transport/cluster-window.js";

/**
 * A stand-in for the ioredis connection: only the two commands ClusterWindow defines (their Lua runs in Redis
 * and is not exercised here) and defineCommand. `acquire` answers each throttleAcquire.
 */
function fakeRedis(acquire: (key: string, count: number, ms: number, open: number, member: string) => Promise<number>) {
  const log: Array<[string, number]> = [];
  const throttleAcquire = vi.fn((key: string, count: number, ms: number, open: number, member: string) => {
    log.push(["acquire", performance.now()]);
    return acquire(key, count, ms, open, member);
  });
  const throttleSettle = vi.fn((_key: string, _member: string) => {
    log.push(["settle", performance.now()]);
    return Promise.resolve(0);
  });
  const defineCommand = vi.fn();
  const redis = { throttleAcquire, throttleSettle, defineCommand };
  return { redis, asRedis: redis as unknown as Redis, log, throttleAcquire, throttleSettle, defineCommand };
}

function answers(...values: number[]) {
  return () => Promise.resolve(values.length > 1 ? values.shift()! : values[0]!);
}

/** A send that records when it ran and answers after `ms` of fake time. */
function sendAfter(log: Array<[string, number]>, ms = 0, result = "answer") {
  return vi.fn(async () => {
    log.push(["send", performance.now()]);
    if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    log.push(["answer", performance.now()]);
    return result;
  });
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["performance", "setTimeout", "clearTimeout", "Date"] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("ClusterWindow", () => {
  it("acquires a slot for the send, sends, then anchors the same member when the answer comes", async () => {
    const f = fakeRedis(answers(0));
    const w = new ClusterWindow(f.asRedis, "p:throttle:{b}:sent", 30, 1000);
    const send = sendAfter(f.log, 40);
    const p = w.run(send);
    await vi.advanceTimersByTimeAsync(40);
    await expect(p).resolves.toBe("answer");
    expect(f.log).toEqual([
      ["acquire", 0],
      ["send", 0],
      ["answer", 40],
      ["settle", 40],
    ]);
    expect(f.throttleAcquire).toHaveBeenCalledExactlyOnceWith("p:throttle:{b}:sent", 30, 1000, 60_000, expect.any(String));
    const member = f.throttleAcquire.mock.calls[0]![4];
    expect(member).toMatch(new RegExp(`^${process.pid}:[0-9a-z]{1,8}:1$`));
    expect(f.throttleSettle).toHaveBeenCalledExactlyOnceWith("p:throttle:{b}:sent", member);
    // Commands exist already: none are defined again.
    expect(f.defineCommand).not.toHaveBeenCalled();
  });

  it("numbers the members of one window in sequence", async () => {
    const f = fakeRedis(answers(0));
    const w = new ClusterWindow(f.asRedis, "k", 1, 1000);
    await w.run(async () => 1);
    await w.run(async () => 2);
    const members = f.throttleAcquire.mock.calls.map((c) => c[4]);
    expect(members[0]!.replace(/:1$/, ":2")).toBe(members[1]);
    expect(f.throttleSettle.mock.calls.map((c) => c[1])).toEqual(members);
  });

  it("waits as long as Redis says and asks again with the same member", async () => {
    const f = fakeRedis(answers(250, 0));
    const w = new ClusterWindow(f.asRedis, "k", 1, 1000);
    const p = w.run(sendAfter(f.log));
    await vi.advanceTimersByTimeAsync(249);
    expect(f.log).toEqual([["acquire", 0]]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe("answer");
    expect(f.log).toEqual([
      ["acquire", 0],
      ["acquire", 250],
      ["send", 250],
      ["answer", 250],
      ["settle", 250],
    ]);
    const [first, second] = f.throttleAcquire.mock.calls;
    expect(second![4]).toBe(first![4]);
  });

  it("polls every 10 ms while every slot is held by a send still waiting for its answer (-1)", async () => {
    const f = fakeRedis(answers(-1, -1, 0));
    const w = new ClusterWindow(f.asRedis, "k", 1, 1000);
    const p = w.run(sendAfter(f.log));
    await vi.advanceTimersByTimeAsync(20);
    await expect(p).resolves.toBe("answer");
    expect(f.log.filter(([what]) => what === "acquire")).toEqual([
      ["acquire", 0],
      ["acquire", 10],
      ["acquire", 20],
    ]);
  });

  it("settles the member even when the send fails, and passes the failure on", async () => {
    const f = fakeRedis(answers(0));
    const w = new ClusterWindow(f.asRedis, "k", 1, 1000);
    const err = new Error("send failed");
    await expect(w.run(() => Promise.reject(err))).rejects.toBe(err);
    expect(f.throttleSettle).toHaveBeenCalledTimes(1);
  });

  it("does not fail or wait for a settle that Redis rejects", async () => {
    const f = fakeRedis(answers(0));
    f.throttleSettle.mockImplementation(() => Promise.reject(new Error("Redis away")));
    const w = new ClusterWindow(f.asRedis, "k", 1, 1000);
    await expect(w.run(async () => "x")).resolves.toBe("x");
  });

  it("sends at once when Redis fails, and leaves Redis alone for 5 s afterwards", async () => {
    const f = fakeRedis(() => Promise.reject(new Error("connection lost")));
    const w = new ClusterWindow(f.asRedis, "k", 1, 1000);
    await expect(w.run(sendAfter(f.log))).resolves.toBe("answer");
    expect(f.throttleAcquire).toHaveBeenCalledTimes(1);
    // An acquire that failed may still have run: its member is settled (a no-op when it never was added).
    expect(f.throttleSettle).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(4999);
    await expect(w.run(sendAfter(f.log, 0, "second"))).resolves.toBe("second");
    expect(f.throttleAcquire).toHaveBeenCalledTimes(1);
    expect(f.throttleSettle).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    f.throttleAcquire.mockImplementation(answers(0));
    await expect(w.run(sendAfter(f.log, 0, "third"))).resolves.toBe("third");
    expect(f.throttleAcquire).toHaveBeenCalledTimes(2);
    expect(f.throttleSettle).toHaveBeenCalledTimes(2);
  });

  it("sends after 1 s when Redis does not answer, and then leaves Redis alone", async () => {
    const f = fakeRedis(() => new Promise<number>(() => undefined));
    const w = new ClusterWindow(f.asRedis, "k", 1, 1000);
    const p = w.run(sendAfter(f.log));
    await vi.advanceTimersByTimeAsync(999);
    expect(f.log).toEqual([["acquire", 0]]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toBe("answer");
    expect(f.log).toEqual([
      ["acquire", 0],
      ["send", 1000],
      ["answer", 1000],
      ["settle", 1000],
    ]);
    // Away until 6000.
    await vi.advanceTimersByTimeAsync(4999);
    await w.run(async () => "x");
    expect(f.throttleAcquire).toHaveBeenCalledTimes(1);
  });

  it("defines its two Lua commands on first use, once", async () => {
    const calls: string[] = [];
    const redis = {
      defineCommand: vi.fn((name: string, _def: { numberOfKeys: number; lua: string }) => {
        calls.push(name);
        (redis as Record<string, unknown>)[name] = () => Promise.resolve(0);
      }),
    };
    const w = new ClusterWindow(redis as unknown as Redis, "k", 1, 1000);
    await w.run(async () => 1);
    await w.run(async () => 2);
    expect(calls).toEqual(["throttleAcquire", "throttleSettle"]);
    expect(redis.defineCommand).toHaveBeenNthCalledWith(1, "throttleAcquire", {
      numberOfKeys: 1,
      lua: expect.stringContaining("ZREMRANGEBYSCORE"),
    });
    expect(redis.defineCommand).toHaveBeenNthCalledWith(2, "throttleSettle", { numberOfKeys: 1, lua: expect.stringContaining("'XX'") });
  });
});
