import { HttpError } from "grammy";
import type { ApiResponse } from "grammy/types";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Outbox, type OutboxOptions, type SendCall } from "../../../src/transport/outbox.js";
import { createRetryPolicy, FloodWaits, tooManyRequests } from "../../../src/transport/retry.js";

type Answer = ApiResponse<unknown>;
type Scripted = Answer | Error;

interface Payload {
  chat_id: string;
  text: string;
}

const ok = (text: string): Answer => ({ ok: true, result: text });
const tooMany = (retryAfter: number): Answer => ({
  ok: false,
  error_code: 429,
  description: `Too Many Requests: retry after ${retryAfter}`,
  parameters: { retry_after: retryAfter },
});
const failed = (code: number): Answer => ({ ok: false, error_code: code, description: `error ${code}` });

/**
 * A fake Bot API behind the outbox: each call of text `t` gets the next scripted answer of `t` (then `ok(t)`),
 * after `latency[t]` ms of fake time (0: in a microtask). An aborted signal fails the call as grammY's fetch would.
 */
function fakeApi(script: Record<string, Scripted[]> = {}, latency: Record<string, number> = {}) {
  const sent: Array<{ text: string; chat: string; at: number; aborted: boolean }> = [];
  const prev = vi.fn<SendCall>((_method, payload, signal) => {
    const p = payload as Payload;
    sent.push({ text: p.text, chat: p.chat_id, at: performance.now(), aborted: signal?.aborted === true });
    if (signal?.aborted) return Promise.reject(signal.reason);
    const next = script[p.text]?.shift() ?? ok(p.text);
    const answer = () => (next instanceof Error ? Promise.reject(next) : Promise.resolve(next));
    const ms = latency[p.text] ?? 0;
    return ms === 0 ? answer() : new Promise<void>((r) => setTimeout(r, ms)).then(answer);
  });
  return {
    prev,
    sent,
    /** [text, at] of every send, in order. */
    log: () => sent.map((s) => [s.text, s.at] as const),
  };
}

/** The outcome of a call, readable without awaiting it. */
function track(p: Promise<Answer>) {
  const t: { done: boolean; value?: Answer; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(t, { done: true, value }),
    (error: unknown) => Object.assign(t, { done: true, error }),
  );
  return t;
}

function makeOutbox(o: Partial<OutboxOptions> = {}) {
  const waits = o.waits ?? new FloodWaits();
  const outbox = new Outbox({
    perBotPerSecond: 30,
    perChatPerSecond: 1,
    perGroupPerMinute: 20,
    policy: undefined,
    maxDelayMs: 30_000,
    ...o,
    waits,
  });
  return { outbox, waits };
}

function sender(outbox: Outbox, prev: SendCall) {
  return (chat: string, text: string, signal?: AbortSignal) =>
    track(outbox.send(chat, prev, "sendMessage", { chat_id: chat, text }, signal));
}

/** A FloodWaits that holds nothing, so only the outbox's own holds show. */
function inertWaits() {
  const note = vi.fn<FloodWaits["note"]>();
  return { waits: { note, until: () => 0, chatsUntil: 0 } as unknown as FloodWaits, note };
}

const internals = (outbox: Outbox) => outbox as unknown as { chats: Map<string, unknown>; timer: NodeJS.Timeout | undefined };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["performance", "setTimeout", "clearTimeout", "Date"] });
  vi.spyOn(Math, "random").mockReturnValue(1);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("Outbox pacing", () => {
  it("spaces the calls of one chat by the chat's window, counted from each answer", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    const calls = ["a", "b", "c"].map((t) => send("1", t));
    // The first goes at once, synchronously.
    expect(api.log()).toEqual([["a", 0]]);
    await vi.advanceTimersByTimeAsync(999);
    expect(api.log()).toEqual([["a", 0]]);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 1000],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 1000],
      ["c", 2000],
    ]);
    expect(calls.map((c) => c.value)).toEqual([ok("a"), ok("b"), ok("c")]);
  });

  it("counts a call until its answer arrives, so slow answers widen the spacing", async () => {
    const api = fakeApi({}, { a: 300, b: 50 });
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    send("1", "a");
    send("1", "b");
    send("1", "c");
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 1300],
      ["c", 2350],
    ]);
  });

  it("does not hold one chat for another", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    send("1", "1a");
    send("1", "1b");
    send("2", "2a");
    send("2", "2b");
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.log()).toEqual([
      ["1a", 0],
      ["2a", 0],
      ["1b", 1000],
      ["2b", 1000],
    ]);
  });

  it("keeps the calls of a chat in order when several may be out at once", async () => {
    const api = fakeApi({}, { a: 300, b: 100, c: 200 });
    const { outbox } = makeOutbox({ perChatPerSecond: 3 });
    const send = sender(outbox, api.prev);
    const calls = ["a", "b", "c", "d", "e"].map((t) => send("1", t));
    await vi.advanceTimersByTimeAsync(3000);
    // Answers arrive at 100, 200, 300: the first of them frees a slot at 1100.
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 0],
      ["c", 0],
      ["d", 1100],
      ["e", 1200],
    ]);
    expect(calls.every((c) => c.done && c.value?.ok === true)).toBe(true);
  });

  it("keeps the bot's limit over all chats", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox({ perBotPerSecond: 3 });
    const send = sender(outbox, api.prev);
    for (const chat of ["1", "2", "3", "4", "5", "6", "7"]) send(chat, `m${chat}`);
    await vi.advanceTimersByTimeAsync(999);
    expect(api.log()).toEqual([
      ["m1", 0],
      ["m2", 0],
      ["m3", 0],
    ]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(api.log()).toEqual([
      ["m1", 0],
      ["m2", 0],
      ["m3", 0],
      ["m4", 1000],
      ["m5", 1000],
      ["m6", 1000],
      ["m7", 2000],
    ]);
  });

  it("keeps a fractional bot limit (0.5/s: one call per 2 s)", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox({ perBotPerSecond: 0.5 });
    const send = sender(outbox, api.prev);
    send("1", "a");
    send("2", "b");
    send("3", "c");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 2000],
      ["c", 4000],
    ]);
  });

  it("lets chats ready at the same time take turns under the bot's limit", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox({ perBotPerSecond: 1 });
    const send = sender(outbox, api.prev);
    send("1", "1a");
    send("1", "1b");
    send("2", "2a");
    send("2", "2b");
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.log()).toEqual([
      ["1a", 0],
      ["2a", 1000],
      ["1b", 2000],
      ["2b", 3000],
    ]);
  });

  it("keeps the per-minute limit of groups and channels, not of private chats", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox({ perGroupPerMinute: 3 });
    const send = sender(outbox, api.prev);
    for (const t of ["g1", "g2", "g3", "g4", "g5"]) send("-100123", t);
    for (const t of ["c1", "c2", "c3", "c4"]) send("@news", t);
    for (const t of ["p1", "p2", "p3", "p4", "p5"]) send("42", t);
    await vi.advanceTimersByTimeAsync(70_000);
    const at = (prefix: string) => api.sent.filter((s) => s.text.startsWith(prefix)).map((s) => s.at);
    expect(at("g")).toEqual([0, 1000, 2000, 60_000, 61_000]);
    expect(at("c")).toEqual([0, 1000, 2000, 60_000]);
    expect(at("p")).toEqual([0, 1000, 2000, 3000, 4000]);
  });

  it("reports how long each call waited for its first send", async () => {
    const onWait = vi.fn<NonNullable<OutboxOptions["onWait"]>>();
    const api = fakeApi({ a: [failed(500)] });
    const { outbox } = makeOutbox({ onWait, policy: createRetryPolicy({ maxAttempts: 2, maxDelayMs: 30_000, baseDelayMs: 100 }) });
    const send = sender(outbox, api.prev);
    send("1", "a");
    send("1", "b");
    await vi.advanceTimersByTimeAsync(250);
    send("2", "c");
    await vi.advanceTimersByTimeAsync(5000);
    // a's retry (at 1000) is not reported again.
    expect(api.log()).toEqual([
      ["a", 0],
      ["c", 250],
      ["a", 1000],
      ["b", 2000],
    ]);
    expect(onWait.mock.calls).toEqual([
      ["sendMessage", 0],
      ["sendMessage", 0],
      ["sendMessage", 2000],
    ]);
  });

  it("sends through `wrap` at the moment a call leaves, counting the call until the wrapped answer", async () => {
    const wrapped: number[] = [];
    const wrap = vi.fn<NonNullable<OutboxOptions["wrap"]>>(async (send) => {
      wrapped.push(performance.now());
      await new Promise((r) => setTimeout(r, 200));
      return send();
    });
    const api = fakeApi();
    const { outbox } = makeOutbox({ wrap });
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    send("1", "b");
    await vi.advanceTimersByTimeAsync(5000);
    expect(wrapped).toEqual([0, 1200]);
    expect(api.log()).toEqual([
      ["a", 200],
      ["b", 1400],
    ]);
    expect(a.value).toEqual(ok("a"));
  });

  it("fails a call whose wrap throws, and goes on with the chat", async () => {
    const err = new Error("wrap failed");
    const wrap = vi.fn<NonNullable<OutboxOptions["wrap"]>>((send) => {
      if (wrap.mock.calls.length === 1) throw err;
      return send();
    });
    const api = fakeApi();
    const { outbox } = makeOutbox({ wrap });
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    const b = send("1", "b");
    await vi.advanceTimersByTimeAsync(1000);
    expect(a.error).toBe(err);
    expect(b.value).toEqual(ok("b"));
    expect(api.log()).toEqual([["b", 1000]]);
  });
});

describe("Outbox retries", () => {
  const policy = (maxAttempts = 3) => createRetryPolicy({ maxAttempts, maxDelayMs: 30_000, baseDelayMs: 100 });

  it("puts a retry back at the head of its chat, before the calls queued behind it", async () => {
    const api = fakeApi({ a: [failed(500)] });
    const { outbox } = makeOutbox({ policy: policy() });
    const send = sender(outbox, api.prev);
    const calls = ["a", "b", "c"].map((t) => send("1", t));
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.log()).toEqual([
      ["a", 0],
      ["a", 1000],
      ["b", 2000],
      ["c", 3000],
    ]);
    expect(calls.map((c) => c.value)).toEqual([ok("a"), ok("b"), ok("c")]);
  });

  it("holds the chat for the backoff before a retry of a 5xx", async () => {
    const api = fakeApi({ a: [failed(502)] });
    const { outbox } = makeOutbox({ policy: policy(), perChatPerSecond: 100 });
    const send = sender(outbox, api.prev);
    send("1", "a");
    await vi.advanceTimersByTimeAsync(50);
    send("1", "b");
    send("2", "x");
    await vi.advanceTimersByTimeAsync(1000);
    // Backoff 100 (base 100, jitter 1): b waits behind a's retry; chat 2 is not held.
    expect(api.log()).toEqual([
      ["a", 0],
      ["x", 50],
      ["a", 100],
      ["b", 100],
    ]);
  });

  it("gives the last answer after maxAttempts retries", async () => {
    const api = fakeApi({ a: [failed(500), failed(500), failed(503)] });
    const { outbox } = makeOutbox({ policy: policy(2) });
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(a.value).toEqual(failed(503));
    expect(api.log()).toEqual([
      ["a", 0],
      ["a", 1000],
      ["a", 2000],
    ]);
  });

  it("does not retry a 4xx other than 429", async () => {
    const api = fakeApi({ a: [failed(400)] });
    const { outbox } = makeOutbox({ policy: policy() });
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    const b = send("1", "b");
    await vi.advanceTimersByTimeAsync(5000);
    expect(a.value).toEqual(failed(400));
    expect(b.value).toEqual(ok("b"));
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 1000],
    ]);
  });

  it("retries a network error and fails at once with any other thrown error", async () => {
    const net = new HttpError("Network request for 'sendMessage' failed!", new Error("ECONNRESET"));
    const bug = new Error("bug");
    const api = fakeApi({ a: [net], b: [bug] });
    const { outbox } = makeOutbox({ policy: policy() });
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    const b = send("1", "b");
    const c = send("1", "c");
    await vi.advanceTimersByTimeAsync(5000);
    expect(a.value).toEqual(ok("a"));
    expect(b.error).toBe(bug);
    expect(c.value).toEqual(ok("c"));
    expect(api.log()).toEqual([
      ["a", 0],
      ["a", 1000],
      ["b", 2000],
      ["c", 3000],
    ]);
  });
});

describe("Outbox flood waits", () => {
  it("holds the chat of a 429 for retry_after, retries at its head, and holds no other chat", async () => {
    const api = fakeApi({ a: [tooMany(5)] });
    const { outbox, waits } = makeOutbox({ policy: createRetryPolicy({ maxAttempts: 3, maxDelayMs: 30_000 }) });
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    const b = send("1", "b");
    await vi.advanceTimersByTimeAsync(100);
    expect(waits.until("1")).toBe(5000);
    expect(waits.chatsUntil).toBe(0);
    send("2", "x");
    await vi.advanceTimersByTimeAsync(4899);
    expect(api.log()).toEqual([
      ["a", 0],
      ["x", 100],
    ]);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.log()).toEqual([
      ["a", 0],
      ["x", 100],
      ["a", 5000],
    ]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.log()).toEqual([
      ["a", 0],
      ["x", 100],
      ["a", 5000],
      ["b", 6000],
    ]);
    expect(a.value).toEqual(ok("a"));
    expect(b.value).toEqual(ok("b"));
  });

  it("without a policy answers the 429 and still holds the chat's next call", async () => {
    const api = fakeApi({ a: [tooMany(2)] });
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    const b = send("1", "b");
    await vi.advanceTimersByTimeAsync(0);
    expect(a.value).toEqual(tooMany(2));
    await vi.advanceTimersByTimeAsync(1999);
    expect(b.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 2000],
    ]);
  });

  it("notes each 429 in the bot's flood waits", async () => {
    const { waits, note } = inertWaits();
    const api = fakeApi({ a: [tooMany(3)] });
    const { outbox } = makeOutbox({ waits });
    const send = sender(outbox, api.prev);
    await vi.advanceTimersByTimeAsync(400);
    send("-100", "a");
    await vi.advanceTimersByTimeAsync(0);
    expect(note).toHaveBeenCalledExactlyOnceWith("-100", 3000, 400);
  });

  it("wakes held chats in the order their waits end", async () => {
    const { waits } = inertWaits();
    const retryAfter = [5, 1, 12, 4, 9, 2, 11, 3, 7, 10, 6, 8];
    const script: Record<string, Scripted[]> = {};
    retryAfter.forEach((s, i) => (script[`first${i}`] = [tooMany(s)]));
    const api = fakeApi(script);
    const { outbox } = makeOutbox({ waits });
    const send = sender(outbox, api.prev);
    retryAfter.forEach((_, i) => {
      send(String(i + 1), `first${i}`);
      send(String(i + 1), `second${i}`);
    });
    await vi.advanceTimersByTimeAsync(20_000);
    const seconds = api.sent.filter((s) => s.text.startsWith("second")).map((s) => [s.chat, s.at]);
    const expected = retryAfter.map((s, i) => [String(i + 1), s * 1000]).sort((x, y) => (x[1] as number) - (y[1] as number));
    expect(seconds).toEqual(expected);
  });

  it("holds every chat after 429s in two chats within one wait", async () => {
    const api = fakeApi({ a: [tooMany(3)], b: [tooMany(3)] });
    const { outbox, waits } = makeOutbox();
    const send = sender(outbox, api.prev);
    send("1", "a");
    send("2", "b");
    await vi.advanceTimersByTimeAsync(10);
    expect(waits.chatsUntil).toBe(3000);
    send("3", "c");
    await vi.advanceTimersByTimeAsync(2989);
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 0],
    ]);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.log()).toEqual([
      ["a", 0],
      ["b", 0],
      ["c", 3000],
    ]);
  });

  it("holds every chat during a flood wait of the whole bot (a 429 to a call without a chat)", async () => {
    const api = fakeApi();
    const { outbox, waits } = makeOutbox();
    waits.note(undefined, 4000, 0);
    const send = sender(outbox, api.prev);
    send("1", "a");
    send("-2", "b");
    await vi.advanceTimersByTimeAsync(3999);
    expect(api.sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.log()).toEqual([
      ["a", 4000],
      ["b", 4000],
    ]);
  });

  it("answers a new call with Telegram's 429, unsent, while a bot-wide wait longer than maxDelayMs runs", async () => {
    const api = fakeApi();
    const { outbox, waits } = makeOutbox({ maxDelayMs: 2000 });
    waits.note(undefined, 2500, 0);
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    await vi.advanceTimersByTimeAsync(0);
    expect(a.value).toEqual(tooManyRequests(2500));
    expect(a.value).toMatchObject({ parameters: { retry_after: 3 } });
    await vi.advanceTimersByTimeAsync(500);
    // 2000 left: not longer than maxDelayMs, so it waits.
    const b = send("1", "b");
    await vi.advanceTimersByTimeAsync(2000);
    expect(b.value).toEqual(ok("b"));
    expect(api.log()).toEqual([["b", 2500]]);
  });

  it("fails the chat's queued calls at once with a 429 when a flood wait is longer than maxDelayMs", async () => {
    const api = fakeApi({ a: [tooMany(60)] });
    const { outbox } = makeOutbox({ maxDelayMs: 10_000, policy: createRetryPolicy({ maxAttempts: 3, maxDelayMs: 10_000 }) });
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    const b = send("1", "b");
    const c = send("1", "c");
    const other = send("2", "x");
    await vi.advanceTimersByTimeAsync(0);
    expect(a.value).toEqual(tooMany(60));
    expect(b.value).toEqual(tooManyRequests(60_000));
    expect(c.value).toEqual(tooManyRequests(60_000));
    expect(other.value).toEqual(ok("x"));
    await vi.advanceTimersByTimeAsync(1000);
    // A call queued later in the wait fails too, with the time left.
    const d = send("1", "d");
    await vi.advanceTimersByTimeAsync(0);
    expect(d.value).toEqual(tooManyRequests(59_000));
    expect(d.value).toMatchObject({ parameters: { retry_after: 59 } });
    await vi.advanceTimersByTimeAsync(59_000);
    const e = send("1", "e");
    await vi.advanceTimersByTimeAsync(0);
    expect(e.value).toEqual(ok("e"));
    expect(api.log()).toEqual([
      ["a", 0],
      ["x", 0],
      ["e", 60_000],
    ]);
  });
});

describe("Outbox stop and abort", () => {
  it("stop() fails the queued calls, lets calls on the wire finish and refuses new ones", async () => {
    const api = fakeApi({}, { a: 100 });
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    const b = send("1", "b");
    const c = send("2", "c");
    const d = send("2", "d");
    await vi.advanceTimersByTimeAsync(50);
    const reason = new Error("stopped");
    outbox.stop(reason);
    outbox.stop(new Error("second stop"));
    await vi.advanceTimersByTimeAsync(0);
    expect(b.error).toBe(reason);
    expect(d.error).toBe(reason);
    expect(c.value).toEqual(ok("c"));
    expect(a.done).toBe(false);
    await vi.advanceTimersByTimeAsync(50);
    expect(a.value).toEqual(ok("a"));
    await expect(outbox.send("3", api.prev, "sendMessage", { chat_id: "3", text: "e" }, undefined)).rejects.toBe(reason);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(api.log()).toEqual([
      ["a", 0],
      ["c", 0],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not retry a call answered after stop()", async () => {
    const api = fakeApi({ a: [failed(500)] }, { a: 100 });
    const { outbox } = makeOutbox({ policy: createRetryPolicy({ maxAttempts: 3, maxDelayMs: 30_000 }) });
    const send = sender(outbox, api.prev);
    const a = send("1", "a");
    outbox.stop(new Error("stopped"));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(a.value).toEqual(failed(500));
    expect(api.prev).toHaveBeenCalledTimes(1);
  });

  it("sends a call whose signal is already aborted straight on, the way grammY fails it", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    send("1", "a");
    send("1", "b");
    const reason = new Error("aborted before");
    const x = send("1", "x", AbortSignal.abort(reason));
    await vi.advanceTimersByTimeAsync(0);
    expect(x.error).toBe(reason);
    expect(api.sent.map((s) => [s.text, s.at, s.aborted])).toEqual([
      ["a", 0, false],
      ["x", 0, true],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.log()).toEqual([
      ["a", 0],
      ["x", 0],
      ["b", 1000],
    ]);
  });

  it("takes an aborted call out of the queue at once; the calls behind it keep their turn", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    const ctl = new AbortController();
    send("1", "a");
    const b = send("1", "b", ctl.signal);
    const c = send("1", "c");
    await vi.advanceTimersByTimeAsync(400);
    const reason = new Error("aborted");
    ctl.abort(reason);
    await vi.advanceTimersByTimeAsync(0);
    expect(b.error).toBe(reason);
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.sent.map((s) => [s.text, s.at, s.aborted])).toEqual([
      ["a", 0, false],
      ["b", 400, true],
      ["c", 1000, false],
    ]);
    expect(c.value).toEqual(ok("c"));
  });

  it("leaves a call alone when its signal aborts after it was sent", async () => {
    const api = fakeApi({}, { a: 100 });
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    const ctl = new AbortController();
    const a = send("1", "a", ctl.signal);
    await vi.advanceTimersByTimeAsync(50);
    ctl.abort(new Error("late"));
    await vi.advanceTimersByTimeAsync(50);
    expect(a.value).toEqual(ok("a"));
    expect(api.prev).toHaveBeenCalledTimes(1);
  });

  it("takes an aborted call out of the queue while it waits for its retry", async () => {
    const api = fakeApi({ a: [failed(500)] });
    const { outbox } = makeOutbox({ policy: createRetryPolicy({ maxAttempts: 3, maxDelayMs: 30_000 }) });
    const send = sender(outbox, api.prev);
    const ctl = new AbortController();
    const a = send("1", "a", ctl.signal);
    const b = send("1", "b");
    await vi.advanceTimersByTimeAsync(500);
    const reason = new Error("aborted");
    ctl.abort(reason);
    await vi.advanceTimersByTimeAsync(5000);
    expect(a.error).toBe(reason);
    expect(api.sent.map((s) => [s.text, s.at, s.aborted])).toEqual([
      ["a", 0, false],
      ["a", 500, true],
      ["b", 1000, false],
    ]);
  });
});

describe("Outbox bookkeeping", () => {
  it("forgets a chat once its window is clear, and leaves no timer behind", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox({ perGroupPerMinute: 20 });
    const send = sender(outbox, api.prev);
    send("1", "a");
    send("-5", "g");
    await vi.advanceTimersByTimeAsync(0);
    expect([...internals(outbox).chats.keys()]).toEqual(["1", "-5"]);
    // Only forgetting is left: the timer does not keep the process alive.
    expect(internals(outbox).timer?.hasRef()).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    // The private chat's window is clear; the group's per-minute window holds for 60 s.
    expect([...internals(outbox).chats.keys()]).toEqual(["-5"]);
    await vi.advanceTimersByTimeAsync(59_000);
    expect(internals(outbox).chats.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps its timer referenced while calls are queued", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox();
    const send = sender(outbox, api.prev);
    send("1", "a");
    send("1", "b");
    await vi.advanceTimersByTimeAsync(0);
    expect(internals(outbox).timer?.hasRef()).toBe(true);
  });
});

describe("Outbox background calls (a broadcast campaign's)", () => {
  const background = (outbox: Outbox, prev: SendCall) => (chat: string, text: string) =>
    track(outbox.sendBackground(chat, prev, "sendMessage", { chat_id: chat, text }));

  it("go at their own pace, and keep a reserve of the bot's window for replies", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox({ perBotPerSecond: 12, background: { perSecond: 100, paid: false } });
    const campaign = background(outbox, api.prev);
    for (let i = 0; i < 20; i++) campaign(String(100 + i), `c${i}`);
    await vi.advanceTimersByTimeAsync(0);
    // 12 a second for the bot, a reserve of 2 (a sixth) left for replies: 10 campaign messages now
    expect(api.sent.filter((s) => s.at === 0)).toHaveLength(10);
    // a reply finds room at once, though the campaign has more to send
    const reply = sender(outbox, api.prev)("7", "reply");
    await vi.advanceTimersByTimeAsync(0);
    expect(reply.value).toEqual(ok("reply"));
    expect(api.log().at(-1)).toEqual(["reply", 0]);
  });

  it("never go before a reply that is waiting, nor into a chat with calls of its own", async () => {
    const api = fakeApi();
    const { outbox } = makeOutbox({ perBotPerSecond: 30, background: { perSecond: 30, paid: false } });
    const send = sender(outbox, api.prev);
    const campaign = background(outbox, api.prev);
    send("5", "r1");
    send("5", "r2"); // waits a second for chat 5's own limit
    campaign("5", "c5"); // the campaign's message to chat 5 waits behind both
    campaign("6", "c6");
    await vi.advanceTimersByTimeAsync(0);
    expect(api.log()).toEqual([
      ["r1", 0],
      ["c6", 0],
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.log().map(([t]) => t)).toEqual(["r1", "c6", "r2", "c5"]);
  });

  it("a 429 of a campaign's message pauses the campaign only: replies and their chats go on", async () => {
    const api = fakeApi({ c1: [tooMany(5)] });
    const { waits } = inertWaits();
    const { outbox } = makeOutbox({
      waits,
      policy: createRetryPolicy({ maxAttempts: 3, maxDelayMs: 30_000 }),
      background: { perSecond: 10, paid: false },
    });
    const campaign = background(outbox, api.prev);
    const c1 = campaign("101", "c1");
    await vi.advanceTimersByTimeAsync(0);
    campaign("102", "c2");
    const reply = sender(outbox, api.prev)("7", "reply");
    await vi.advanceTimersByTimeAsync(1000);
    expect(reply.value).toEqual(ok("reply"));
    expect(api.sent.map((s) => s.text)).toEqual(["c1", "reply"]); // c2 waits out the campaign's pause
    await vi.advanceTimersByTimeAsync(5000);
    expect(c1.value).toEqual(ok("c1"));
    expect(api.sent.map((s) => s.text)).toEqual(["c1", "reply", "c1", "c2"]);
  });
});
