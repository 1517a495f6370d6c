import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GrammyError, HttpError } from "grammy";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { fakeToken } from "../support/harness.js";
import { message } from "../support/updates.js";
import { createGetUpdates, type GetUpdates } from "../../src/runtime/get-updates.js";
import { createSharedTransport, type SharedTransport } from "../../src/transport/shared-transport.js";

describe("direct getUpdates", () => {
  let fake: LocalBotApi;
  let transport: SharedTransport;
  let outcomes: string[];
  const token = fakeToken(71);

  const make = (timeoutMs = 10_000, t = token): GetUpdates =>
    createGetUpdates({ apiRoot: fake.apiRoot, token: t, post: transport.post, timeoutMs, observe: (o) => outcomes.push(o) });

  beforeEach(async () => {
    outcomes = [];
    fake = await LocalBotApi.start();
    fake.addBot(token);
    transport = createSharedTransport({ connections: 8 });
  });

  afterEach(async () => {
    await transport.destroy();
    await fake.stop();
  });

  it("returns the updates after the offset and confirms the ones before it", async () => {
    const getUpdates = make();
    const [a, b] = fake.injectMany(token, [message(1, "one"), message(2, "two")]);
    const first = await getUpdates({ limit: 100, timeout: 0 }, new AbortController().signal);
    expect(first.map((u) => u.update_id)).toEqual([a, b]);
    const second = await getUpdates({ offset: b! + 1, limit: 100, timeout: 0, allowed_updates: ["message"] }, new AbortController().signal);
    expect(second).toEqual([]);
    expect(fake.confirmedOffset(token)).toBe(b! + 1);
    expect(outcomes).toEqual(["ok", "ok"]);
  });

  it("long-polls until an update arrives", async () => {
    const getUpdates = make();
    const pending = getUpdates({ limit: 100, timeout: 5 }, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 100));
    const id = fake.inject(token, message(3, "late"));
    expect((await pending).map((u) => u.update_id)).toEqual([id]);
  });

  it("throws grammY's GrammyError for an error answer: 401 for a bad token, 429 with retry_after", async () => {
    const bad = make(10_000, fakeToken(72));
    const unauthorized = await bad({ limit: 1, timeout: 0 }, new AbortController().signal).catch((e: unknown) => e);
    expect(unauthorized).toBeInstanceOf(GrammyError);
    expect((unauthorized as GrammyError).error_code).toBe(401);
    expect(String(unauthorized)).not.toContain(fakeToken(72).split(":")[1]);
    fake.rateLimit(token, { methods: ["getUpdates"], count: 1, retryAfter: 7 });
    const limited = await make()({ limit: 1, timeout: 0 }, new AbortController().signal).catch((e: unknown) => e);
    expect((limited as GrammyError).error_code).toBe(429);
    expect((limited as GrammyError).parameters.retry_after).toBe(7);
    expect(outcomes).toEqual(["401", "429"]);
  });

  it("throws HttpError when aborted or timed out, GrammyError for a 5xx answer", async () => {
    const ac = new AbortController();
    const pending = make()({ limit: 1, timeout: 30 }, ac.signal);
    setTimeout(() => ac.abort(), 50);
    await expect(pending).rejects.toBeInstanceOf(HttpError);
    await expect(make(100)({ limit: 1, timeout: 30 }, new AbortController().signal)).rejects.toBeInstanceOf(HttpError);
    fake.failNext(token, "getUpdates", 502);
    const failed = await make()({ limit: 1, timeout: 0 }, new AbortController().signal).catch((e: unknown) => e);
    expect((failed as GrammyError).error_code).toBe(502);
    expect(outcomes).toEqual(["network", "network", "502"]);
  });
});
