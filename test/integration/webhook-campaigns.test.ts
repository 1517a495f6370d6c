import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { freePort } from "../support/redis-server.js";
import { buildYaml, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { createKeys } from "../../src/storage/keys.js";
import { RedisCampaignStore } from "../../src/storage/redis-campaign-store.js";

const redisUrl = inject("redisUrl");

describe("webhook bots idle until their first update still resume a running campaign at start", () => {
  const fx = useHost({ drainTimeoutMs: 2_000 });

  it("with unfinished updates to replay and without: each bot's campaign reaches its audience", async () => {
    const fake: LocalBotApi = await fx.startFake();
    const bots = [
      { id: "replaying", token: fakeToken(931) },
      { id: "parked", token: fakeToken(932) },
    ];
    for (const b of bots) fake.addBot(b.token);
    const prefix = uniquePrefix();
    const keys = createKeys(prefix);
    const redis = new Redis(redisUrl);
    try {
      // What an earlier run left: an audience per bot, a running campaign each, and for one bot an update that
      // was journaled but not finished (its start builds the bot to replay it).
      const audience = [501, 502, 503];
      const store = new RedisCampaignStore(redis, keys);
      for (const b of bots) {
        for (const chat of audience) await redis.zadd(keys.audience(b.id), Date.now(), String(chat));
        await store.create(b.id, { id: `c-${b.id}`, text: `news from ${b.id}` }, Date.now());
      }
      const pending = { update_id: 77, ...message(600, "left over") };
      await redis.hset(keys.journal("replaying"), "77", JSON.stringify(pending));

      const port = await freePort();
      await fx.start(
        buildYaml({
          apiRoot: fake.apiRoot,
          redisUrl,
          prefix,
          bots,
          http: `http:\n  listen: "127.0.0.1:${port}"`,
          extra: `mode: webhook\nwebhook:\n  public_url: http://127.0.0.1:${port}`,
        }),
      );
      const reached = (b: { id: string; token: string }): number[] =>
        fake
          .sent(b.token)
          .filter((s) => s.text === `news from ${b.id}`)
          .map((s) => Number(s.chat_id))
          .sort((x, y) => x - y);
      await fake.waitFor(() => bots.every((b) => reached(b).length === audience.length), 15_000, "both campaigns sent");
      for (const b of bots) expect(reached(b)).toEqual(audience);
      // the replayed update was answered too
      await fake.waitFor(() => fake.sent(bots[0]!.token).some((s) => Number(s.chat_id) === 600), 10_000, "the replay answered");
    } finally {
      redis.disconnect();
    }
  });
});
