import { describe, expect, it } from "vitest";
import { message } from "../support/updates.js";
import { startRedisServer } from "../support/redis-server.js";
import { buildYaml, fakeToken } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";

describe("losing Redis while running", () => {
  const fx = useHost({ drainTimeoutMs: 3_000, ignoreStopErrors: true });

  it("logs the loss once, holds the work, and handles every update after the reconnect", async () => {
    const fake = await fx.startFake();
    const bot = { id: "rl", token: fakeToken(500) };
    fake.addBot(bot.token);
    const redis = fx.track(await startRedisServer());
    const port = redis.port;
    const { lines } = await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl: redis.url, bots: [bot] }));
    fake.inject(bot.token, message(1, "before"));
    await fake.waitForSent(bot.token, 1);
    await redis.stop();
    for (let i = 0; i < 5; i++) fake.inject(bot.token, message(2 + i, `during${i}`));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(fake.sent(bot.token)).toHaveLength(1); // nothing is handled unjournaled
    fx.track(await startRedisServer(port));
    await fake.waitForSent(bot.token, 6, 15_000);
    expect(
      fake
        .sent(bot.token)
        .map((s) => s.text.split("|")[3])
        .sort(),
    ).toEqual(["before", "during0", "during1", "during2", "during3", "during4"]);
    expect(lines.filter((l) => l.msg?.startsWith("lost the Redis connection"))).toHaveLength(1);
    expect(lines.some((l) => l.msg === "Redis connection restored")).toBe(true);
  }, 30_000);

  it("shuts down promptly while Redis is down, and nothing fetched is confirmed without its journal", async () => {
    const fake = await fx.startFake();
    const bot = { id: "rd", token: fakeToken(501) };
    fake.addBot(bot.token);
    const redis = fx.track(await startRedisServer());
    const { host } = await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl: redis.url, bots: [bot] }));
    await redis.stop();
    fake.inject(bot.token, message(1, "stranded"));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    await host.stop(3_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(fake.pendingCount(bot.token)).toBe(1); // Telegram still has it: the next start handles it
  }, 30_000);
});
