import { GrammyError, HttpError, type Transformer } from "grammy";
import type { ApiResponse } from "grammy/types";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  chatOf,
  createRetryPolicy,
  createRetryTransformer,
  FloodWaits,
  retryAfterMs,
  tooManyRequests,
  type RetryOptions,
  type RetryTransformerOptions,
} from "../../../src/transport/retry.js";

type Answer = ApiResponse<unknown>;

const OK: Answer = { ok: true, result: true };
const tooMany = (retryAfter?: number): Answer => ({
  ok: false,
  error_code: 429,
  description: "Too Many Requests",
  ...(retryAfter === undefined ? {} : { parameters: { retry_after: retryAfter } }),
});
const failed = (code: number): Answer => ({ ok: false, error_code: code, description: `error ${code}` });
const network = (): HttpError => new HttpError("Network request for 'sendMessage' failed!", new Error("ECONNRESET"));

function policyWith(o: Partial<RetryOptions> = {}) {
  const onRetry = vi.fn<NonNullable<RetryOptions["onRetry"]>>();
  const onGiveUp = vi.fn<NonNullable<RetryOptions["onGiveUp"]>>();
  const policy = createRetryPolicy({ maxAttempts: 3, maxDelayMs: 10_000, onRetry, onGiveUp, ...o });
  return { policy, onRetry, onGiveUp };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("createRetryPolicy", () => {
  it("does not retry a successful answer", () => {
    const { policy, onRetry, onGiveUp } = policyWith();
    expect(policy.next("sendMessage", { res: OK }, 0, false)).toBeUndefined();
    expect(onRetry).not.toHaveBeenCalled();
    expect(onGiveUp).not.toHaveBeenCalled();
  });

  it("does not retry 4xx answers other than 429, and does not report them as given up", () => {
    const { policy, onRetry, onGiveUp } = policyWith();
    for (const code of [400, 401, 403, 404, 409, 420, 499]) {
      expect(policy.next("sendMessage", { res: failed(code) }, 0, false)).toBeUndefined();
    }
    expect(onRetry).not.toHaveBeenCalled();
    expect(onGiveUp).not.toHaveBeenCalled();
  });

  it("retries a 429 after its retry_after, and after 1 s when it has none", () => {
    const { policy, onRetry } = policyWith();
    expect(policy.next("sendMessage", { res: tooMany(3) }, 0, false)).toEqual({ reason: "429", delayMs: 3000 });
    expect(onRetry).toHaveBeenLastCalledWith({ method: "sendMessage", reason: "429", waitMs: 3000, attempt: 1 });
    expect(policy.next("sendPhoto", { res: tooMany() }, 1, false)).toEqual({ reason: "429", delayMs: 1000 });
    expect(onRetry).toHaveBeenLastCalledWith({ method: "sendPhoto", reason: "429", waitMs: 1000, attempt: 2 });
  });

  it("gives up on a 429 whose retry_after is longer than maxDelayMs, and retries one exactly as long", () => {
    const { policy, onRetry, onGiveUp } = policyWith({ maxDelayMs: 5000 });
    expect(policy.next("sendMessage", { res: tooMany(6) }, 0, false)).toBeUndefined();
    expect(onGiveUp).toHaveBeenCalledExactlyOnceWith({ method: "sendMessage", reason: "429", attempts: 1 });
    expect(onRetry).not.toHaveBeenCalled();
    expect(policy.next("sendMessage", { res: tooMany(5) }, 0, false)).toEqual({ reason: "429", delayMs: 5000 });
    expect(policy.maxDelayMs).toBe(5000);
  });

  it("retries 5xx answers with capped exponential backoff", () => {
    vi.spyOn(Math, "random").mockReturnValue(1);
    const { policy, onRetry } = policyWith({ maxDelayMs: 3000 });
    // Default base 500: 500, 1000, 2000, then capped at maxDelayMs.
    expect(policy.next("sendMessage", { res: failed(500) }, 0, false)).toEqual({ reason: "5xx", delayMs: 500 });
    expect(policy.next("sendMessage", { res: failed(502) }, 1, false)).toEqual({ reason: "5xx", delayMs: 1000 });
    expect(policy.next("sendMessage", { res: failed(503) }, 2, false)).toEqual({ reason: "5xx", delayMs: 2000 });
    expect(onRetry).toHaveBeenLastCalledWith({ method: "sendMessage", reason: "5xx", waitMs: 2000, attempt: 3 });
    const { policy: longer } = policyWith({ maxAttempts: 10, maxDelayMs: 3000 });
    expect(longer.next("sendMessage", { res: failed(500) }, 5, false)).toEqual({ reason: "5xx", delayMs: 3000 });
  });

  it("jitters the backoff between half and all of its ceiling", () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { policy } = policyWith({ baseDelayMs: 100 });
    expect(policy.next("sendMessage", { res: failed(500) }, 0, false)).toEqual({ reason: "5xx", delayMs: 50 });
    expect(policy.next("sendMessage", { res: failed(500) }, 2, false)).toEqual({ reason: "5xx", delayMs: 200 });
  });

  it("retries a network error (grammY's HttpError) at once, then with backoff", () => {
    vi.spyOn(Math, "random").mockReturnValue(1);
    const { policy, onRetry } = policyWith({ baseDelayMs: 100 });
    expect(policy.next("getMe", { err: network() }, 0, false)).toEqual({ reason: "network", delayMs: 0 });
    expect(onRetry).toHaveBeenLastCalledWith({ method: "getMe", reason: "network", waitMs: 0, attempt: 1 });
    expect(policy.next("getMe", { err: network() }, 1, false)).toEqual({ reason: "network", delayMs: 100 });
    expect(policy.next("getMe", { err: network() }, 2, false)).toEqual({ reason: "network", delayMs: 200 });
  });

  it("does not retry other thrown errors, nor a network error of an aborted call", () => {
    const { policy, onRetry, onGiveUp } = policyWith();
    expect(policy.next("getMe", { err: new Error("bug") }, 0, false)).toBeUndefined();
    expect(
      policy.next("getMe", { err: new GrammyError("e", { ok: false, error_code: 500, description: "x" }, "getMe", {}) }, 0, false),
    ).toBeUndefined();
    expect(policy.next("getMe", { err: network() }, 0, true)).toBeUndefined();
    expect(onRetry).not.toHaveBeenCalled();
    expect(onGiveUp).not.toHaveBeenCalled();
  });

  it("gives up after maxAttempts retries and reports the attempts made", () => {
    const { policy, onGiveUp } = policyWith({ maxAttempts: 2 });
    expect(policy.next("sendMessage", { res: failed(500) }, 1, false)).toBeDefined();
    expect(policy.next("sendMessage", { res: failed(500) }, 2, false)).toBeUndefined();
    expect(onGiveUp).toHaveBeenLastCalledWith({ method: "sendMessage", reason: "5xx", attempts: 3 });
    expect(policy.next("sendMessage", { res: tooMany(1) }, 2, false)).toBeUndefined();
    expect(onGiveUp).toHaveBeenLastCalledWith({ method: "sendMessage", reason: "429", attempts: 3 });
    expect(policy.next("sendMessage", { err: network() }, 2, false)).toBeUndefined();
    expect(onGiveUp).toHaveBeenLastCalledWith({ method: "sendMessage", reason: "network", attempts: 3 });
    expect(onGiveUp).toHaveBeenCalledTimes(3);
  });

  it("never retries with maxAttempts 0", () => {
    const { policy, onRetry, onGiveUp } = policyWith({ maxAttempts: 0 });
    expect(policy.next("sendMessage", { res: tooMany(1) }, 0, false)).toBeUndefined();
    expect(policy.next("sendMessage", { res: failed(500) }, 0, false)).toBeUndefined();
    expect(policy.next("sendMessage", { err: network() }, 0, false)).toBeUndefined();
    expect(onRetry).not.toHaveBeenCalled();
    expect(onGiveUp.mock.calls.map(([info]) => info)).toEqual([
      { method: "sendMessage", reason: "429", attempts: 1 },
      { method: "sendMessage", reason: "5xx", attempts: 1 },
      { method: "sendMessage", reason: "network", attempts: 1 },
    ]);
  });
});

describe("retryAfterMs and tooManyRequests", () => {
  it("reads retry_after in ms, 1 s without one, 0 for a success", () => {
    expect(retryAfterMs(tooMany(7))).toBe(7000);
    expect(retryAfterMs(tooMany())).toBe(1000);
    expect(retryAfterMs(OK)).toBe(0);
  });

  it("spells Telegram's 429 with whole seconds rounded up, at least 1", () => {
    expect(tooManyRequests(2500)).toEqual({
      ok: false,
      error_code: 429,
      description: "Too Many Requests: retry after 3",
      parameters: { retry_after: 3 },
    });
    expect(tooManyRequests(3000)).toMatchObject({ parameters: { retry_after: 3 } });
    expect(tooManyRequests(3001)).toMatchObject({ parameters: { retry_after: 4 } });
    expect(tooManyRequests(1)).toMatchObject({ parameters: { retry_after: 1 } });
    expect(tooManyRequests(0)).toMatchObject({ description: "Too Many Requests: retry after 1", parameters: { retry_after: 1 } });
  });
});

describe("chatOf", () => {
  it("spells chat_id as a string key", () => {
    expect(chatOf({ chat_id: 42, text: "x" })).toBe("42");
    expect(chatOf({ chat_id: -1001234567890 })).toBe("-1001234567890");
    expect(chatOf({ chat_id: "@channel" })).toBe("@channel");
    expect(chatOf({ chat_id: 0 })).toBe("0");
  });

  it("is undefined for calls without a chat", () => {
    expect(chatOf(undefined)).toBeUndefined();
    expect(chatOf(null)).toBeUndefined();
    expect(chatOf({})).toBeUndefined();
    expect(chatOf({ chat_id: null })).toBeUndefined();
    expect(chatOf({ chat_id: undefined, user_id: 5 })).toBeUndefined();
  });
});

describe("FloodWaits", () => {
  it("holds nothing at first", () => {
    const w = new FloodWaits();
    expect(w.until(undefined)).toBe(0);
    expect(w.until("1")).toBe(0);
    expect(w.chatsUntil).toBe(0);
  });

  it("holds only its chat after a 429 in one chat, keeping the longest wait", () => {
    const w = new FloodWaits();
    w.note("1", 5000, 100);
    expect(w.until("1")).toBe(5100);
    expect(w.until("2")).toBe(0);
    expect(w.until(undefined)).toBe(0);
    expect(w.chatsUntil).toBe(0);
    w.note("1", 1000, 200);
    expect(w.until("1")).toBe(5100);
    w.note("1", 6000, 200);
    expect(w.until("1")).toBe(6200);
    // The same chat twice does not point at the bot-wide limit.
    expect(w.chatsUntil).toBe(0);
  });

  it("holds every call after a 429 to a call without a chat", () => {
    const w = new FloodWaits();
    w.note(undefined, 3000, 1000);
    expect(w.until(undefined)).toBe(4000);
    expect(w.until("1")).toBe(4000);
    expect(w.until("-100")).toBe(4000);
    expect(w.chatsUntil).toBe(4000);
    w.note(undefined, 1000, 1000);
    expect(w.until(undefined)).toBe(4000);
  });

  it("holds every chat (but not calls without a chat) after 429s in two chats within one wait", () => {
    const w = new FloodWaits();
    w.note("1", 5000, 0);
    w.note("2", 2000, 1000);
    expect(w.chatsUntil).toBe(3000);
    expect(w.until("3")).toBe(3000);
    expect(w.until("1")).toBe(5000);
    expect(w.until("2")).toBe(3000);
    expect(w.until(undefined)).toBe(0);
  });

  it("does not hold every chat when the first chat's wait was over before the second 429", () => {
    const w = new FloodWaits();
    w.note("1", 1000, 0);
    w.note("2", 1000, 1000);
    expect(w.chatsUntil).toBe(0);
    expect(w.until("3")).toBe(0);
    expect(w.until("2")).toBe(2000);
  });

  it("reads the clock from performance.now() by default", () => {
    vi.useFakeTimers({ toFake: ["performance", "setTimeout", "clearTimeout"] });
    vi.advanceTimersByTime(2500);
    const w = new FloodWaits();
    w.note("1", 1000);
    expect(w.until("1")).toBe(3500);
  });

  it("forgets chats whose wait is over once it holds 1024", () => {
    const w = new FloodWaits();
    const chats = (w as unknown as { chats: Map<string, number> }).chats;
    for (let i = 0; i < 1024; i++) w.note(`c${i}`, i < 1000 ? 10 : 100_000, 0);
    expect(chats.size).toBe(1024);
    w.note("new", 10, 50);
    expect([...chats.keys()]).toEqual([...Array.from({ length: 24 }, (_, i) => `c${i + 1000}`), "new"]);
    expect(chats.get("c1010")).toBe(100_000);
    expect(chats.get("new")).toBe(60);
  });
});

/** Calls a transformer the way grammY does. */
function call(
  t: Transformer,
  prev: (method: string, payload: unknown) => Promise<Answer>,
  method: string,
  payload: unknown,
  signal?: AbortSignal,
): Promise<Answer> {
  return (t as unknown as (p: typeof prev, m: string, pl: unknown, s: AbortSignal | undefined) => Promise<Answer>)(
    prev,
    method,
    payload,
    signal,
  );
}

/** A fake Bot API: answers each call with the next of `answers` (or throws it), recording when it was called. */
function fakeApi(...answers: Array<Answer | Error>) {
  const calls: Array<{ method: string; payload: unknown; at: number }> = [];
  const prev = vi.fn(async (method: string, payload: unknown): Promise<Answer> => {
    calls.push({ method, payload, at: performance.now() });
    const next = answers.length > 1 ? answers.shift()! : (answers[0] ?? OK);
    if (next instanceof Error) throw next;
    return next;
  });
  return { prev, calls, at: () => calls.map((c) => c.at) };
}

describe("createRetryTransformer", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["performance", "setTimeout", "clearTimeout", "Date"] });
    vi.spyOn(Math, "random").mockReturnValue(1);
  });

  function transformer(o: Partial<RetryTransformerOptions> & { retry?: Partial<RetryOptions> } = {}) {
    const waits = o.waits ?? new FloodWaits();
    const maxDelayMs = o.maxDelayMs ?? 10_000;
    const policy = "policy" in o ? o.policy : createRetryPolicy({ maxAttempts: 3, maxDelayMs, ...o.retry });
    const t = createRetryTransformer({ policy, maxDelayMs, waits, ...(o.skip === undefined ? {} : { skip: o.skip }) });
    return { t, waits };
  }

  it("passes a call straight through without a policy and notes a 429 of its chat", async () => {
    const { t, waits } = transformer({ policy: undefined });
    const api = fakeApi(tooMany(4));
    await expect(call(t, api.prev, "sendMessage", { chat_id: 1 })).resolves.toEqual(tooMany(4));
    expect(api.prev).toHaveBeenCalledTimes(1);
    expect(waits.until("1")).toBe(4000);
    expect(waits.until("2")).toBe(0);
  });

  it("holds a call of a waiting chat until its wait ends, without a policy too", async () => {
    const { t, waits } = transformer({ policy: undefined });
    waits.note("1", 3000, 0);
    const api = fakeApi(OK);
    const p = call(t, api.prev, "sendMessage", { chat_id: 1 });
    const other = call(t, api.prev, "sendMessage", { chat_id: 2 });
    await vi.advanceTimersByTimeAsync(2999);
    expect(api.calls.map((c) => c.payload)).toEqual([{ chat_id: 2 }]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toEqual(OK);
    await expect(other).resolves.toEqual(OK);
    expect(api.at()).toEqual([0, 3000]);
  });

  it("answers Telegram's 429 at once, without sending, when the wait is longer than maxDelayMs", async () => {
    const { t, waits } = transformer({ maxDelayMs: 5000 });
    waits.note("1", 7500, 0);
    const api = fakeApi(OK);
    await expect(call(t, api.prev, "sendMessage", { chat_id: 1 })).resolves.toEqual(tooManyRequests(7500));
    expect(api.prev).not.toHaveBeenCalled();
  });

  it("retries a 429 after retry_after and holds the chat's other calls meanwhile", async () => {
    const { t, waits } = transformer();
    const api = fakeApi(tooMany(2), OK);
    const p = call(t, api.prev, "sendMessage", { chat_id: 1, text: "a" });
    await vi.advanceTimersByTimeAsync(0);
    expect(waits.until("1")).toBe(2000);
    const q = call(t, api.prev, "sendMessage", { chat_id: 1, text: "b" });
    const r = call(t, api.prev, "sendMessage", { chat_id: 2, text: "c" });
    await vi.advanceTimersByTimeAsync(2000);
    await expect(p).resolves.toEqual(OK);
    await expect(q).resolves.toEqual(OK);
    await expect(r).resolves.toEqual(OK);
    expect(api.calls.map((c) => [(c.payload as { text: string }).text, c.at])).toEqual([
      ["a", 0],
      ["c", 0],
      ["a", 2000],
      ["b", 2000],
    ]);
  });

  it("returns a 429 longer than maxDelayMs at once, and fails later calls of that chat without sending", async () => {
    const { t, waits } = transformer({ maxDelayMs: 5000 });
    const api = fakeApi(tooMany(60));
    await expect(call(t, api.prev, "sendMessage", { chat_id: 1 })).resolves.toEqual(tooMany(60));
    expect(api.prev).toHaveBeenCalledTimes(1);
    expect(waits.until("1")).toBe(60_000);
    await expect(call(t, api.prev, "sendMessage", { chat_id: 1 })).resolves.toEqual(tooManyRequests(60_000));
    expect(api.prev).toHaveBeenCalledTimes(1);
  });

  it("retries 5xx answers after the backoff and returns the last answer after maxAttempts", async () => {
    const onGiveUp = vi.fn();
    const { t } = transformer({ retry: { maxAttempts: 2, baseDelayMs: 100, onGiveUp } });
    const api = fakeApi(failed(502));
    const p = call(t, api.prev, "sendMessage", { chat_id: 1 });
    await vi.advanceTimersByTimeAsync(10_000);
    await expect(p).resolves.toEqual(failed(502));
    // Backoff 100 after the first attempt, 200 after the second (random mocked to 1).
    expect(api.at()).toEqual([0, 100, 300]);
    expect(onGiveUp).toHaveBeenCalledExactlyOnceWith({ method: "sendMessage", reason: "5xx", attempts: 3 });
  });

  it("does not retry a 4xx answer other than 429", async () => {
    const { t, waits } = transformer();
    const api = fakeApi(failed(400), OK);
    await expect(call(t, api.prev, "sendMessage", { chat_id: 1 })).resolves.toEqual(failed(400));
    expect(api.prev).toHaveBeenCalledTimes(1);
    expect(waits.until("1")).toBe(0);
  });

  it("retries a network error at once and then after backoff, and throws it after maxAttempts", async () => {
    const { t } = transformer({ retry: { maxAttempts: 2, baseDelayMs: 100 } });
    const err = network();
    const api = fakeApi(err);
    const p = call(t, api.prev, "getMe", undefined);
    const caught = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await caught).toBe(err);
    expect(api.at()).toEqual([0, 0, 100]);
  });

  it("recovers from a network error", async () => {
    const { t } = transformer();
    const api = fakeApi(network(), OK);
    const p = call(t, api.prev, "getMe", undefined);
    await vi.advanceTimersByTimeAsync(0);
    await expect(p).resolves.toEqual(OK);
    expect(api.at()).toEqual([0, 0]);
  });

  it("throws other errors at once", async () => {
    const { t } = transformer();
    const err = new Error("bug");
    const api = fakeApi(err);
    await expect(call(t, api.prev, "getMe", undefined)).rejects.toBe(err);
    expect(api.prev).toHaveBeenCalledTimes(1);
  });

  it("holds every call, with a chat or not, after a 429 of a call without a chat", async () => {
    const { t, waits } = transformer();
    const api = fakeApi(tooMany(3), OK);
    const first = call(t, api.prev, "answerCallbackQuery", { callback_query_id: "q" });
    await vi.advanceTimersByTimeAsync(0);
    expect(waits.until(undefined)).toBe(3000);
    const inChat = call(t, api.prev, "sendMessage", { chat_id: 7 });
    const noChat = call(t, api.prev, "getMe", {});
    await vi.advanceTimersByTimeAsync(2999);
    expect(api.prev).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    await Promise.all([first, inChat, noChat]);
    expect(api.calls.map((c) => [c.method, c.at])).toEqual([
      ["answerCallbackQuery", 0],
      ["answerCallbackQuery", 3000],
      ["sendMessage", 3000],
      ["getMe", 3000],
    ]);
  });

  it("waits again when a later 429 extends the wait it sleeps in", async () => {
    const { t, waits } = transformer({ policy: undefined });
    waits.note("1", 2000, 0);
    const api = fakeApi(OK);
    const p = call(t, api.prev, "sendMessage", { chat_id: 1 });
    await vi.advanceTimersByTimeAsync(1000);
    waits.note("1", 3000, 1000);
    await vi.advanceTimersByTimeAsync(2999);
    expect(api.prev).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    await expect(p).resolves.toEqual(OK);
    expect(api.at()).toEqual([4000]);
  });

  it("leaves the calls of the skip predicate alone", async () => {
    const skip = vi.fn((method: string) => method === "sendMessage");
    const { t, waits } = transformer({ skip });
    waits.note("1", 60_000, 0);
    const api = fakeApi(failed(500), tooMany(5));
    await expect(call(t, api.prev, "sendMessage", { chat_id: 1 })).resolves.toEqual(failed(500));
    expect(skip).toHaveBeenCalledWith("sendMessage", { chat_id: 1 });
    expect(api.prev).toHaveBeenCalledTimes(1);
    // Not retried and its 429 not noted either: the throttle's queue does both for such calls.
    await expect(call(t, api.prev, "sendMessage", { chat_id: 2 })).resolves.toEqual(tooMany(5));
    expect(waits.until("2")).toBe(0);
    // Others still go through the transformer.
    await expect(call(t, api.prev, "sendPhoto", { chat_id: 1 })).resolves.toEqual(tooManyRequests(60_000));
    expect(api.prev).toHaveBeenCalledTimes(2);
  });

  it("rejects with the signal's reason when the call is aborted while it waits", async () => {
    const { t, waits } = transformer();
    waits.note("1", 3000, 0);
    const api = fakeApi(OK);
    const ctl = new AbortController();
    const p = call(t, api.prev, "sendMessage", { chat_id: 1 }, ctl.signal);
    const caught = p.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    const reason = new Error("aborted");
    ctl.abort(reason);
    expect(await caught).toBe(reason);
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.prev).not.toHaveBeenCalled();
  });
});
