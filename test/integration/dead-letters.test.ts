import type { Update } from "grammy/types";
import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { buildYaml, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { message } from "../support/updates.js";
import { createKeys } from "../../src/storage/keys.js";
import { OperatorChannel } from "../../src/storage/operator-channel.js";
import { RedisDeadLetters } from "../../src/storage/redis-dead-letters.js";

const redisUrl = inject("redisUrl");

/** The labels the counter app answered for `token`, in order (`<bot>|<user>|<count>|<label>`, or `late|<label>`). */
function answered(fx: ReturnType<typeof useHost>, token: string): string[] {
  return fx.fake.sent(token).map((s) => (s.text.startsWith("late|") ? s.text : s.text.split("|")[3]!));
}

describe.each(["redis", "memory"] as const)("a handler that runs past updates.handler_timeout, %s store", (kind) => {
  const fx = useHost();

  it("frees its chat, is set aside once with reason timeout, and what it does later is refused", async () => {
    await fx.startFake();
    const bot = { id: "slow", token: fakeToken(230) };
    fx.fake.addBot(bot.token);
    const prefix = uniquePrefix();
    const extra = "updates:\n  handler_timeout: 1";
    const { host, lines } = await fx.start(
      buildYaml({ apiRoot: fx.fake.apiRoot, ...(kind === "redis" ? { redisUrl, prefix } : {}), bots: [bot], extra }),
    );
    fx.fake.inject(bot.token, message(7, "first"));
    await fx.fake.waitForSent(bot.token, 1);
    // hangs for 3 s, then tries to reply; the chat's next message must not wait for it
    fx.fake.inject(bot.token, message(7, "stuck late=3000"));
    fx.fake.inject(bot.token, message(7, "after"));
    await fx.fake.waitForSent(bot.token, 2);
    expect(answered(fx, bot.token)).toEqual(["first", "after"]);
    const setAside = lines.filter((l) => l.code === "BOT_HOST_UPDATE_SET_ASIDE");
    expect(setAside).toHaveLength(1);
    expect(setAside[0]).toMatchObject({ level: 50, bot: "slow", reason: "timeout", update_id: expect.any(Number) });
    // the late reply is refused with its own code and never reaches the Bot API
    await fx.fake.waitFor(
      () => lines.some((l) => l.msg === "a handler set aside after its timeout failed later"),
      10_000,
      "the refused late reply",
    );
    const late = lines.find((l) => l.msg === "a handler set aside after its timeout failed later");
    expect(JSON.stringify(late)).toContain("BOT_HOST_HANDLER_TIMED_OUT");
    expect(fx.fake.calls(bot.token).filter((c) => String(c.params.text).startsWith("late|"))).toEqual([]);
    // the session counts "first" and "after" only: the set-aside update committed nothing
    fx.fake.inject(bot.token, message(7, "third"));
    await fx.fake.waitForSent(bot.token, 3);
    expect(fx.fake.sent(bot.token)[2]!.text).toBe(`slow|${fx.fake.sent(bot.token)[0]!.text.split("|")[1]}|3|third`);
    // a parked update is not unreadiness; it is counted per bot (read once "third" committed: its reply comes first)
    await fx.fake.waitFor(() => host.status().bots[0]!.inFlight === 0, 5_000, "third committed");
    const status = host.status();
    expect(status.ready).toBe(true);
    expect(status.bots.find((b) => b.id === "slow")).toMatchObject({ state: "running", deadLetters: 1, inFlight: 0 });
    expect(host.readiness().bots.slow).toMatchObject({ state: "running", dead_letters: 1 });
    const metrics = await host.metrics.registry.metrics();
    expect(metrics).toContain('bot_host_dead_letters_total{bot="slow",reason="timeout"} 1');
    expect(metrics).toContain('bot_host_dead_letters{bot="slow"} 1');
  });
});

describe("an update started updates.max_attempts times without finishing (Redis)", () => {
  const fx = useHost();

  it("is set aside at its next start with the last error known, its offset is confirmed and its chat goes on; retry runs it once more", async () => {
    await fx.startFake();
    const bot = { id: "poisoned", token: fakeToken(231) };
    // Telegram's next update ids follow the poison update's.
    fx.fake.addBot(bot.token, { firstUpdateId: 101 });
    const prefix = uniquePrefix();
    const keys = createKeys(prefix);
    const redis = new Redis(redisUrl);
    fx.track({ stop: async () => redis.disconnect() });
    // As three crashed runs leave it: journaled, started three times, the last uncaught exception noted.
    const poison = { update_id: 100, ...message(9, "poison") } as Update;
    await redis.hset(keys.journal(bot.id), String(poison.update_id), JSON.stringify(poison));
    await redis.set(keys.watermark(bot.id), String(poison.update_id));
    await redis.hset(keys.attempts(bot.id), String(poison.update_id), "3", `e:${poison.update_id}`, "uncaught exception: Error: boom");
    const { host, lines } = await fx.start(buildYaml({ apiRoot: fx.fake.apiRoot, redisUrl, prefix, bots: [bot] }));
    fx.fake.inject(bot.token, message(9, "next"));
    await fx.fake.waitForSent(bot.token, 1);
    expect(answered(fx, bot.token)).toEqual(["next"]);
    expect(lines.filter((l) => l.code === "BOT_HOST_UPDATE_SET_ASIDE")).toEqual([
      expect.objectContaining({
        bot: "poisoned",
        update_id: poison.update_id,
        reason: "crashed",
        attempts: 3,
        error: "uncaught exception: Error: boom",
      }),
    ]);
    expect(await redis.hexists(keys.journal(bot.id), String(poison.update_id))).toBe(0);
    const letters = new RedisDeadLetters(redis, keys);
    expect(await letters.list(bot.id)).toEqual([
      {
        botId: "poisoned",
        update: poison,
        attempts: 3,
        reason: "crashed",
        error: "uncaught exception: Error: boom",
        at: expect.any(Number),
      },
    ]);
    expect(host.status().bots[0]).toMatchObject({ deadLetters: 1 });

    // An operator hands it back: the running owner runs it at once (it answers now: the bug was fixed), and the
    // counts follow.
    expect(await letters.retry(bot.id, poison.update_id, 3)).toBe(true);
    expect(await new OperatorChannel({ redis, keys }).publish({ kind: "retry", botId: bot.id, updateId: poison.update_id })).toBe(1);
    await fx.fake.waitForSent(bot.token, 2);
    expect(answered(fx, bot.token)).toEqual(["next", "poison"]);
    await fx.fake.waitFor(() => host.status().bots[0]!.deadLetters === 0, 5_000, "the count back to 0");
    expect(await letters.count(bot.id)).toBe(0);
    expect(await redis.exists(keys.journal(bot.id), keys.attempts(bot.id))).toBe(0);
  });
});
