import { afterEach, describe, expect, it } from "vitest";
import { FakeBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { buildYaml, fakeToken, startHost, type LogLine } from "../support/harness.js";
import type { Host } from "../../src/host.js";

describe("losing Redis while running", () => {
  let fake: FakeBotApi;
  let host: Host | undefined;
  let redis: RedisServer | undefined;
  afterEach(async () => {
    await host?.stop(3_000).catch(() => undefined);
    host = undefined;
    await redis?.stop();
    await fake?.stop();
  });

  it("logs the loss once, holds the work, and handles every update after the reconnect", async () => {
    fake = await FakeBotApi.start();
    const bot = { id: "rl", token: fakeToken(500) };
    fake.addBot(bot.token);
    redis = await startRedisServer();
    const port = redis.port;
    let lines: LogLine[];
    ({ host, lines } = await startHost(buildYaml({ apiRoot: fake.apiRoot, redisUrl: redis.url, bots: [bot] })));
    fake.inject(bot.token, message(1, "before"));
    await fake.waitForSent(bot.token, 1);
    await redis.stop();
    for (let i = 0; i < 5; i++) fake.inject(bot.token, message(2 + i, `during${i}`));
    await new Promise((r) => setTimeout(r, 1_000));
    expect(fake.sent(bot.token)).toHaveLength(1); // nothing is handled unjournaled
    redis = await startRedisServer(port);
    await fake.waitForSent(bot.token, 6, 15_000);
    expect(fake.sent(bot.token).map((s) => s.text.split("|")[3]).sort()).toEqual(["before", "during0", "during1", "during2", "during3", "during4"]);
    expect(lines.filter((l) => l.msg?.startsWith("lost the Redis connection"))).toHaveLength(1);
    expect(lines.some((l) => l.msg === "Redis connection restored")).toBe(true);
  }, 30_000);

  it("shuts down promptly while Redis is down, and nothing fetched is confirmed without its journal", async () => {
    fake = await FakeBotApi.start();
    const bot = { id: "rd", token: fakeToken(501) };
    fake.addBot(bot.token);
    redis = await startRedisServer();
    ({ host } = await startHost(buildYaml({ apiRoot: fake.apiRoot, redisUrl: redis.url, bots: [bot] })));
    await redis.stop();
    redis = undefined;
    fake.inject(bot.token, message(1, "stranded"));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    await host.stop(3_000);
    host = undefined;
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(fake.pendingCount(bot.token)).toBe(1); // Telegram still has it: the next start handles it
  }, 30_000);
});
