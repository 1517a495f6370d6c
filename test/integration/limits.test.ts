import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Api, GrammyError } from "grammy";
import { Redis } from "ioredis";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { fakeToken, uniquePrefix } from "../support/harness.js";
import { createRetryPolicy, createRetryTransformer, FloodWaits, type RetryOptions, type RetryReason } from "../../src/transport/retry.js";
import { createThrottle, isThrottled } from "../../src/transport/throttle.js";
import { createSharedTransport } from "../../src/transport/shared-transport.js";
import { message } from "../support/updates.js";
import { buildYaml } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { createKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");

/** The retry transformer of a bot without a throttle, as the host installs it. */
function retrying(o: RetryOptions) {
  return createRetryTransformer({ policy: createRetryPolicy(o), maxDelayMs: o.maxDelayMs, waits: new FloodWaits() });
}

/** Largest number of `times` inside any window of `windowMs`. */
function maxInWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe("Bot API limits: retries and outgoing throttle", () => {
  let fake: LocalBotApi;
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
    await fake?.stop();
  });

  function api(token: string, keepAliveTimeoutMs?: number): Api {
    const transport = createSharedTransport({ connections: 16, ...(keepAliveTimeoutMs ? { keepAliveTimeoutMs } : {}) });
    cleanup.push(() => transport.destroy());
    return new Api(token, { apiRoot: fake.apiRoot, fetch: transport.fetch as never });
  }

  it("retries 429 after retry_after, holding the chat it concerns until then, and 5xx with backoff", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(80);
    fake.addBot(token);
    const a = api(token);
    const retries: RetryReason[] = [];
    a.config.use(retrying({ maxAttempts: 5, maxDelayMs: 5_000, baseDelayMs: 50, onRetry: (x) => retries.push(x.reason) }));
    fake.rateLimit(token, { methods: ["sendMessage"], count: 2, retryAfter: 1 });
    fake.failNext(token, "deleteMessage", 502, 2);
    const t0 = Date.now();
    const sends = await Promise.all([1, 2, 3, 4].map((chat) => a.sendMessage(chat, `hello ${chat}`)));
    expect(sends).toHaveLength(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(fake.sent(token)).toHaveLength(4);
    // a second call in a held chat waits for the chat's retry_after; a call in another chat does not
    fake.rateLimit(token, { methods: ["sendMessage"], count: 1, retryAfter: 1 });
    const held = a.sendMessage(5, "first");
    // The server counts a 429 when it answers; the client knows of the wait only once the answer is back,
    // which is when it reports the retry.
    await fake.waitFor(() => retries.filter((r) => r === "429").length === 3);
    await Promise.all([held, a.sendMessage(5, "second"), a.sendMessage(6, "not held")]);
    const texts = fake.sent(token).map((s) => s.text);
    expect(texts.indexOf("not held")).toBeLessThan(texts.indexOf("first"));
    expect(texts.slice(4).sort()).toEqual(["first", "not held", "second"]);
    expect(fake.retryAfterViolations(token)).toBe(0); // "second" waited for chat 5's retry_after too
    expect(await a.deleteMessage(1, 1)).toBe(true);
    expect(retries.filter((r) => r === "429")).toHaveLength(3);
    expect(retries.filter((r) => r === "5xx")).toHaveLength(2);
  });

  it("gives up after max attempts with Telegram's own error, and fails at once when retry_after exceeds max_delay", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(81);
    fake.addBot(token);
    const a = api(token);
    a.config.use(retrying({ maxAttempts: 2, maxDelayMs: 2_000, baseDelayMs: 10 }));
    fake.failNext(token, "sendMessage", 500, 10);
    await expect(a.sendMessage(1, "x")).rejects.toMatchObject({ error_code: 500 });
    expect(fake.callCount(token, "sendMessage")).toBe(3);
    fake.failNext(token, "sendMessage", 500, 0);
    fake.rateLimit(token, { count: 1, retryAfter: 60 });
    const err = await a.sendMessage(1, "y").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrammyError);
    expect((err as GrammyError).parameters.retry_after).toBe(60);
  });

  it("retries a call whose connection is reset before any response, at once", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(85);
    fake.addBot(token);
    const a = api(token);
    const retries: Array<{ reason: RetryReason; waitMs: number }> = [];
    a.config.use(retrying({ maxAttempts: 3, maxDelayMs: 1_000, onRetry: (x) => retries.push({ reason: x.reason, waitMs: x.waitMs }) }));
    fake.resetNext(token, "sendMessage", 1);
    await a.sendMessage(1, "survives a reset");
    expect(fake.sent(token).map((s) => s.text)).toEqual(["survives a reset"]);
    expect(retries).toEqual([{ reason: "network", waitMs: 0 }]);
    // and without the retry transformer, grammY alone loses it
    const bare = api(token);
    fake.resetNext(token, "sendMessage", 1);
    await expect(bare.sendMessage(1, "lost")).rejects.toThrow();
  });

  it("loses no reply when the server closes idle keep-alive sockets", async () => {
    fake = await LocalBotApi.start({ keepAliveTimeoutMs: 30 });
    const token = fakeToken(82);
    fake.addBot(token);
    const a = api(token, 60_000); // the client would keep sockets far longer than the server does
    a.config.use(retrying({ maxAttempts: 3, maxDelayMs: 1_000 }));
    for (let i = 0; i < 120; i++) {
      await a.sendMessage(1 + (i % 3), `m${i}`);
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 25 + (i % 10)));
    }
    expect(fake.sent(token).map((s) => s.text)).toEqual(Array.from({ length: 120 }, (_, i) => `m${i}`));
  }, 30_000);

  it("keeps each chat and the bot under their limits, and a flood in one chat does not delay another chat", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(83);
    fake.addBot(token);
    const a = api(token);
    const throttle = createThrottle({ perBotPerSecond: 20, perChatPerSecond: 2, perGroupPerMinute: 120 });
    cleanup.push(() => throttle.stop());
    a.config.use(throttle.transformer);
    const flood = Array.from({ length: 8 }, (_, i) => a.sendMessage(1, `flood${i}`));
    const groups = Array.from({ length: 4 }, (_, i) => a.sendMessage(-100, `group${i}`));
    await fake.waitFor(() => fake.sent(token).some((s) => s.text === "flood0"));
    await a.sendMessage(2, "other chat");
    await Promise.all([...flood, ...groups]);
    const sent = fake.sent(token);
    const times = (chat: number) => sent.filter((s) => s.chat_id === chat).map((s) => s.at);
    expect(maxInWindow(times(1), 1_000)).toBeLessThanOrEqual(2);
    expect(maxInWindow(times(-100), 1_000)).toBeLessThanOrEqual(2);
    expect(
      maxInWindow(
        sent.map((s) => s.at),
        1_000,
      ),
    ).toBeLessThanOrEqual(20);
    // not queued behind chat 1: chat 1 may send flood4 only 2 s after its first answers
    const order = sent.map((s) => s.text);
    expect(order.indexOf("other chat")).toBeLessThan(order.indexOf("flood4"));
  }, 30_000);

  it("a 429 holds its chat only; 429s in two chats within one wait hold every chat (the bot-wide limit)", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(86);
    fake.addBot(token);
    const a = api(token);
    const retried: string[] = [];
    const waits = new FloodWaits();
    const policy = createRetryPolicy({ maxAttempts: 3, maxDelayMs: 5_000, onRetry: (x) => retried.push(x.reason) });
    const throttle = createThrottle({
      perBotPerSecond: 30,
      perChatPerSecond: 100,
      perGroupPerMinute: 6000,
      policy,
      waits,
      maxDelayMs: 5_000,
    });
    cleanup.push(() => throttle.stop());
    a.config.use(createRetryTransformer({ policy, maxDelayMs: 5_000, waits, skip: isThrottled }), throttle.transformer);
    fake.rateLimit(token, { methods: ["sendMessage"], count: 1, retryAfter: 2 });
    const first = a.sendMessage(1, "held");
    await fake.waitFor(() => retried.length === 1);
    await Promise.all([first, a.sendMessage(2, "not held")]);
    const order = () => fake.sent(token).map((s) => s.text);
    expect(order()).toEqual(["not held", "held"]);
    fake.rateLimit(token, { methods: ["sendMessage"], count: 2, retryAfter: 2 });
    const both = [a.sendMessage(3, "three"), a.sendMessage(4, "four")];
    await fake.waitFor(() => retried.length === 3);
    await Promise.all([...both, a.sendMessage(5, "five")]);
    const calls = fake.calls(token).filter((c) => c.method === "sendMessage");
    const lastLimited = Math.max(...calls.filter((c) => c.status === 429).map((c) => c.at));
    const five = calls.find((c) => c.params.text === "five")!;
    expect(five.status).toBe(200);
    expect(five.at - lastLimited).toBeGreaterThanOrEqual(1_999); // it waited with the limited chats
    expect(fake.retryAfterViolations(token)).toBe(0);
  }, 30_000);

  it("holds the per-bot limit across two processes sharing Redis", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(84);
    fake.addBot(token);
    const key = createKeys(uniquePrefix()).throttle("shared");
    const sides = [0, 1].map(() => {
      const redis = new Redis(redisUrl);
      const throttle = createThrottle({ perBotPerSecond: 10, perChatPerSecond: 100, perGroupPerMinute: 600, cluster: { redis, key } });
      cleanup.push(async () => {
        await throttle.stop();
        redis.disconnect();
      });
      const a = api(token);
      a.config.use(throttle.transformer);
      return a;
    });
    await Promise.all(sides.flatMap((a, s) => Array.from({ length: 15 }, (_, i) => a.sendMessage(1000 + s * 100 + i, `s${s}-${i}`))));
    const times = fake.sent(token).map((s) => s.at);
    expect(times).toHaveLength(30);
    expect(maxInWindow(times, 1_000)).toBeLessThanOrEqual(10);
  }, 30_000);

  it("keeps sending, under each process' own window, while the Redis of the shared per-bot limit is away", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(87);
    fake.addBot(token);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const redis = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: null, retryStrategy: () => 200 });
    redis.on("error", () => undefined);
    const throttle = createThrottle({
      perBotPerSecond: 10,
      perChatPerSecond: 100,
      perGroupPerMinute: 600,
      cluster: { redis, key: createKeys(uniquePrefix()).throttle("away") },
    });
    cleanup.push(async () => {
      await throttle.stop();
      redis.disconnect();
    });
    const a = api(token);
    a.config.use(throttle.transformer);
    await Promise.all(Array.from({ length: 12 }, (_, i) => a.sendMessage(2000 + i, `away${i}`)));
    const times = fake.sent(token).map((s) => s.at);
    expect(times).toHaveLength(12);
    expect(maxInWindow(times, 1_000)).toBeLessThanOrEqual(10);
  }, 30_000);
});

describe("limits in the host", () => {
  const fx = useHost({ drainTimeoutMs: 5_000, ignoreStopErrors: true });

  it("a burst of 2,000 replies over 50 chats of one bot, beside 10 other bots, loses none under 429s and keeps every limit", async () => {
    const fake = await fx.startFake({ record: true });
    const main = { id: "main", token: fakeToken(90) };
    const others = Array.from({ length: 10 }, (_, i) => ({ id: `o${i}`, token: fakeToken(91 + i) }));
    for (const b of [main, ...others]) fake.addBot(b.token);
    fake.rateLimit(main.token, { methods: ["sendMessage"], count: 3, retryAfter: 1 });
    for (const o of others) fake.rateLimit(o.token, { methods: ["sendMessage"], count: 1, retryAfter: 1 });
    const { host } = await fx.start(
      buildYaml({
        apiRoot: fake.apiRoot,
        redisUrl,
        bots: [main, ...others],
        limits: "limits:\n  outgoing: { per_bot: 300, per_chat: 20, per_group: 600 }\n  retry: { max_attempts: 5, max_delay: 5 }",
      }),
    );
    const bodies = Array.from({ length: 2000 }, (_, i) => message(1 + (i % 50), `b${i}`));
    fake.injectMany(main.token, bodies);
    for (const o of others)
      fake.injectMany(
        o.token,
        Array.from({ length: 20 }, (_, i) => message(500 + (i % 5), `x${i}`)),
      );
    await fake.waitForSent(main.token, 2000, 40_000);
    for (const o of others) await fake.waitForSent(o.token, 20, 10_000);
    const sent = fake.sent(main.token);
    expect(new Set(sent.map((s) => s.text.split("|")[3])).size).toBe(2000);
    for (const b of [main, ...others]) expect(fake.retryAfterViolations(b.token)).toBe(0);
    expect(
      maxInWindow(
        sent.map((s) => s.at),
        1_000,
      ),
    ).toBeLessThanOrEqual(300);
    for (let chat = 1; chat <= 50; chat++) {
      expect(
        maxInWindow(
          sent.filter((s) => s.chat_id === chat).map((s) => s.at),
          1_000,
        ),
      ).toBeLessThanOrEqual(20);
    }
    const metrics = await host.metrics.registry.metrics();
    expect(metrics).toMatch(/bot_host_api_retries_total\{bot="main",method="sendMessage",reason="429"\} 3/);
    expect(metrics).toMatch(/bot_host_throttled_calls_total\{bot="main",method="sendMessage"\} \d+/);
  }, 60_000);

  it("with Telegram's limits enforced by the fake and the default throttle on, no 429 at all; with it off, retries still deliver every reply", async () => {
    // Two bots, each 40 messages over 8 private chats and one group (5 per chat: 4 s at 1 message/s and chat).
    const fake = await fx.startFake({ limits: true });
    const chats = [11, 12, 13, 14, 15, 16, 17, 18, -500];
    const run = async (outgoing: string, base: number) => {
      const bots = [0, 1].map((i) => ({ id: `t${base + i}`, token: fakeToken(base + i) }));
      for (const b of bots) fake.addBot(b.token);
      const { host } = await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, bots, limits: `limits:\n  outgoing: ${outgoing}` }));
      for (const b of bots)
        fake.injectMany(
          b.token,
          Array.from({ length: 45 }, (_, i) => message(chats[i % chats.length]!, `m${i}`)),
        );
      for (const b of bots) await fake.waitForSent(b.token, 45, 45_000);
      await host.stop(5_000);
      for (const b of bots) {
        const labels = fake.sent(b.token).map((s) => s.text.split("|")[3]);
        expect(new Set(labels).size).toBe(45);
        for (const chat of chats) {
          // each chat's replies in the order of its messages
          const mine = fake
            .sent(b.token)
            .filter((s) => s.chat_id === chat)
            .map((s) => Number(s.text.split("|")[2]));
          expect(mine).toEqual([1, 2, 3, 4, 5]);
        }
      }
      return bots.map((b) => ({ tooMany: fake.tooManyRequests(b.token), violations: fake.retryAfterViolations(b.token) }));
    };
    const on = await run("{ enabled: true }", 120);
    expect(on).toEqual([
      { tooMany: 0, violations: 0 },
      { tooMany: 0, violations: 0 },
    ]);
    const off = await run("{ enabled: false }", 130);
    // the fake does enforce the limits (so the run above could fail), and the retries honour every retry_after
    for (const b of off) expect(b.tooMany).toBeGreaterThan(0);
    expect(off.map((b) => b.violations)).toEqual([0, 0]);
  }, 120_000);

  it("drops updates over the per-user flood limit when it is on, and still finishes them in the journal", async () => {
    const fake = await fx.startFake();
    const bot = { id: "f", token: fakeToken(110) };
    fake.addBot(bot.token);
    const { host } = await fx.start(
      buildYaml({
        apiRoot: fake.apiRoot,
        redisUrl,
        bots: [bot],
        limits: "limits:\n  incoming: { enabled: true, per_user: 2, window: 30 }",
      }),
    );
    for (let i = 0; i < 5; i++) fake.inject(bot.token, message(7, `flood${i}`));
    fake.inject(bot.token, message(8, "other"));
    await fake.waitForSent(bot.token, 3);
    // all six updates are accounted for (three answered, three dropped): no further reply can come
    for (let i = 0; !(await host.metrics.registry.metrics()).includes('bot_host_flood_limited_updates_total{bot="f"} 3'); i++) {
      if (i > 1000) throw new Error("the flood limit never counted three dropped updates");
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(
      fake
        .sent(bot.token)
        .map((s) => s.text.split("|")[3])
        .sort(),
    ).toEqual(["flood0", "flood1", "other"]);
  });
});
