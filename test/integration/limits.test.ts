import { afterEach, describe, expect, inject, it } from "vitest";
import { Api, GrammyError } from "grammy";
import { Redis } from "ioredis";
import Bottleneck from "bottleneck";
import { FakeBotApi } from "../support/fake-bot-api.js";
import { fakeToken, uniquePrefix } from "../support/harness.js";
import { createRetryTransformer, type RetryReason } from "../../src/transport/retry.js";
import { createThrottle } from "../../src/transport/throttle.js";
import { createSharedTransport } from "../../src/transport/shared-transport.js";
import { message } from "../support/updates.js";
import { buildYaml, startHost } from "../support/harness.js";
import type { Host } from "../../src/host.js";

const redisUrl = inject("redisUrl");

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
  let fake: FakeBotApi;
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

  it("retries 429 after retry_after, holding every call of the bot until then, and 5xx with backoff", async () => {
    fake = await FakeBotApi.start();
    const token = fakeToken(80);
    fake.addBot(token);
    const a = api(token);
    const retries: RetryReason[] = [];
    const r = createRetryTransformer({ maxAttempts: 5, maxDelayMs: 5_000, baseDelayMs: 50, onRetry: (x) => retries.push(x.reason) });
    a.config.use(r.gate, r.retry);
    fake.rateLimit(token, { methods: ["sendMessage"], count: 2, retryAfter: 1 });
    fake.failNext(token, "deleteMessage", 502, 2);
    const t0 = Date.now();
    const sends = await Promise.all([1, 2, 3, 4].map((chat) => a.sendMessage(chat, `hello ${chat}`)));
    expect(sends).toHaveLength(4);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_000);
    expect(fake.sent(token)).toHaveLength(4);
    expect(fake.retryAfterViolations(token)).toBe(0);
    expect(await a.deleteMessage(1, 1)).toBe(true);
    expect(retries.filter((r) => r === "429")).toHaveLength(2);
    expect(retries.filter((r) => r === "5xx")).toHaveLength(2);
  });

  it("gives up after max attempts with Telegram's own error, and fails at once when retry_after exceeds max_delay", async () => {
    fake = await FakeBotApi.start();
    const token = fakeToken(81);
    fake.addBot(token);
    const a = api(token);
    const r = createRetryTransformer({ maxAttempts: 2, maxDelayMs: 2_000, baseDelayMs: 10 });
    a.config.use(r.gate, r.retry);
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
    fake = await FakeBotApi.start();
    const token = fakeToken(85);
    fake.addBot(token);
    const a = api(token);
    const retries: Array<{ reason: RetryReason; waitMs: number }> = [];
    const r = createRetryTransformer({ maxAttempts: 3, maxDelayMs: 1_000, onRetry: (x) => retries.push({ reason: x.reason, waitMs: x.waitMs }) });
    a.config.use(r.gate, r.retry);
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
    fake = await FakeBotApi.start({ keepAliveTimeoutMs: 30 });
    const token = fakeToken(82);
    fake.addBot(token);
    const a = api(token, 60_000); // the client would keep sockets far longer than the server does
    const r = createRetryTransformer({ maxAttempts: 3, maxDelayMs: 1_000 });
    a.config.use(r.gate, r.retry);
    for (let i = 0; i < 120; i++) {
      await a.sendMessage(1 + (i % 3), `m${i}`);
      if (i % 4 === 0) await new Promise((r) => setTimeout(r, 25 + (i % 10)));
    }
    expect(fake.sent(token).map((s) => s.text)).toEqual(Array.from({ length: 120 }, (_, i) => `m${i}`));
  }, 30_000);

  it("keeps each chat and the bot under their limits, and a flood in one chat does not delay another chat", async () => {
    fake = await FakeBotApi.start();
    const token = fakeToken(83);
    fake.addBot(token);
    const a = api(token);
    const throttle = createThrottle({ perBotPerSecond: 20, perChatPerSecond: 2, perGroupPerMinute: 120 });
    cleanup.push(() => throttle.stop());
    a.config.use(throttle.transformer);
    const flood = Array.from({ length: 8 }, (_, i) => a.sendMessage(1, `flood${i}`));
    const groups = Array.from({ length: 4 }, (_, i) => a.sendMessage(-100, `group${i}`));
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await a.sendMessage(2, "other chat");
    const otherLatency = Date.now() - t0;
    await Promise.all([...flood, ...groups]);
    const sent = fake.sent(token);
    const times = (chat: number) => sent.filter((s) => s.chat_id === chat).map((s) => s.at);
    expect(maxInWindow(times(1), 1_000)).toBeLessThanOrEqual(2);
    expect(maxInWindow(times(-100), 1_000)).toBeLessThanOrEqual(2);
    expect(maxInWindow(sent.map((s) => s.at), 1_000)).toBeLessThanOrEqual(20);
    // at most one throttle interval of the chat (550 ms), far less than the flood's 4 s
    expect(otherLatency).toBeLessThan(550);
  }, 30_000);

  it("holds the per-bot limit across two processes sharing Redis", async () => {
    fake = await FakeBotApi.start();
    const token = fakeToken(84);
    fake.addBot(token);
    const id = `${uniquePrefix()}throttle:shared`;
    const sides = [0, 1].map(() => {
      const connection = new Bottleneck.IORedisConnection({ client: new Redis(redisUrl) });
      const throttle = createThrottle({ perBotPerSecond: 10, perChatPerSecond: 100, perGroupPerMinute: 600, cluster: { connection, id } });
      cleanup.push(async () => {
        await throttle.stop();
        await connection.disconnect();
      });
      const a = api(token);
      a.config.use(throttle.transformer);
      return a;
    });
    await Promise.all(sides.flatMap((a, s) => Array.from({ length: 15 }, (_, i) => a.sendMessage(1000 + s * 100 + i, `s${s}-${i}`))));
    const times = fake.sent(token).map((s) => s.at);
    expect(times).toHaveLength(30);
    expect(maxInWindow(times, 1_000)).toBeLessThanOrEqual(11);
  }, 30_000);
});

describe("limits in the host", () => {
  let fake: FakeBotApi;
  let host: Host | undefined;
  afterEach(async () => {
    await host?.stop(5_000).catch(() => undefined);
    host = undefined;
    await fake?.stop();
  });

  it("a burst of 2,000 replies over 50 chats of one bot, beside 10 other bots, loses none under 429s and keeps every limit", async () => {
    fake = await FakeBotApi.start({ record: true });
    const main = { id: "main", token: fakeToken(90) };
    const others = Array.from({ length: 10 }, (_, i) => ({ id: `o${i}`, token: fakeToken(91 + i) }));
    for (const b of [main, ...others]) fake.addBot(b.token);
    fake.rateLimit(main.token, { methods: ["sendMessage"], count: 3, retryAfter: 1 });
    for (const o of others) fake.rateLimit(o.token, { methods: ["sendMessage"], count: 1, retryAfter: 1 });
    ({ host } = await startHost(
      buildYaml({
        apiRoot: fake.apiRoot,
        redisUrl,
        bots: [main, ...others],
        limits: "limits:\n  outgoing: { per_bot: 300, per_chat: 20, per_group: 600 }\n  retry: { max_attempts: 5, max_delay: 5 }",
      }),
    ));
    const bodies = Array.from({ length: 2000 }, (_, i) => message(1 + (i % 50), `b${i}`));
    fake.injectMany(main.token, bodies);
    for (const o of others) fake.injectMany(o.token, Array.from({ length: 20 }, (_, i) => message(500 + (i % 5), `x${i}`)));
    await fake.waitForSent(main.token, 2000, 40_000);
    for (const o of others) await fake.waitForSent(o.token, 20, 10_000);
    const sent = fake.sent(main.token);
    expect(new Set(sent.map((s) => s.text.split("|")[3])).size).toBe(2000);
    for (const b of [main, ...others]) expect(fake.retryAfterViolations(b.token)).toBe(0);
    expect(maxInWindow(sent.map((s) => s.at), 1_000)).toBeLessThanOrEqual(300);
    for (let chat = 1; chat <= 50; chat++) {
      expect(maxInWindow(sent.filter((s) => s.chat_id === chat).map((s) => s.at), 1_000)).toBeLessThanOrEqual(20);
    }
    const metrics = await host.metrics.registry.metrics();
    expect(metrics).toMatch(/bot_host_api_retries_total\{bot="main",method="sendMessage",reason="429"\} 3/);
    expect(metrics).toMatch(/bot_host_throttled_calls_total\{bot="main",method="sendMessage"\} \d+/);
  }, 60_000);

  it("drops updates over the per-user flood limit when it is on, and still finishes them in the journal", async () => {
    fake = await FakeBotApi.start();
    const bot = { id: "f", token: fakeToken(110) };
    fake.addBot(bot.token);
    ({ host } = await startHost(
      buildYaml({ apiRoot: fake.apiRoot, redisUrl, bots: [bot], limits: "limits:\n  incoming: { enabled: true, per_user: 2, window: 30 }" }),
    ));
    for (let i = 0; i < 5; i++) fake.inject(bot.token, message(7, `flood${i}`));
    fake.inject(bot.token, message(8, "other"));
    await fake.waitForSent(bot.token, 3);
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.sent(bot.token).map((s) => s.text.split("|")[3]).sort()).toEqual(["flood0", "flood1", "other"]);
    expect(await host.metrics.registry.metrics()).toContain('bot_host_flood_limited_updates_total{bot="f"} 3');
  });
});
