import { describe, expect, inject, it } from "vitest";
import { message } from "../support/updates.js";
import { buildYaml, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";

const redisUrl = inject("redisUrl");

describe("redis.min_replicas", () => {
  const fx = useHost();

  it("with fewer replicas than asked for, handles and confirms nothing, and says why", async () => {
    const fake = await fx.startFake();
    const bot = { id: "rep", token: fakeToken(760) };
    fake.addBot(bot.token);
    // the test's redis-server has no replica: WAIT 1 can never be met
    const yaml = buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix: uniquePrefix(), bots: [bot], extra: "" }).replace(
      /^redis:\n/m,
      "redis:\n  min_replicas: 1\n",
    );
    const { lines } = await fx.start(yaml);
    fake.inject(bot.token, message(8, "must wait for a replica"));
    await fake.waitFor(
      () =>
        lines.some(
          (l) =>
            l.msg === "cannot write the update journal; retrying the batch" && JSON.stringify(l.err).includes("BOT_HOST_NOT_REPLICATED"),
        ),
      10_000,
      "the refusal",
    );
    // fetched again and again, but never confirmed to Telegram and never handled
    await fake.waitFor(() => fake.callCount(bot.token, "getUpdates") >= 3);
    expect(fake.sent(bot.token)).toEqual([]);
    expect(fake.pendingCount(bot.token)).toBe(1);
  });
});
