import { afterEach, describe, expect, inject, it } from "vitest";
import { Redis } from "ioredis";
import { message } from "../support/updates.js";
import { buildYaml, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { createKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");

describe("update journal", () => {
  const fx = useHost({ drainTimeoutMs: 200, ignoreStopErrors: true });
  let redis: Redis | undefined;
  // afterEach hooks run in reverse order of registration: this one before the fixture's, harmless for a client
  afterEach(() => {
    redis?.disconnect();
    redis = undefined;
  });

  it("one slow update (10 s) does not hold back the other chats, nor the offset", async () => {
    const fake = await fx.startFake();
    const token = fakeToken(1);
    fake.addBot(token);
    const prefix = uniquePrefix();
    await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: [{ id: "a", token }] }));
    const slowId = fake.inject(token, message(1, "slow sleep=10000 begin"));
    await fake.waitForSent(token, 1);
    const t0 = Date.now();
    for (let chat = 2; chat <= 20; chat++) fake.inject(token, message(chat, `fast${chat}`));
    await fake.waitForSent(token, 20, 5_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    // the cursor moved past the slow update: it is kept in the journal, not by holding back the offset
    await fake.waitFor(() => fake.confirmedOffset(token) > slowId + 1, 5_000);
    redis = new Redis(redisUrl);
    // the fast updates leave the journal in the commits that follow their replies: wait for those
    const key = createKeys(prefix).journal("a");
    for (const deadline = Date.now() + 5_000; (await redis.hlen(key)) > 1 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 10));
    expect(await redis.hkeys(key)).toEqual([String(slowId)]);
  }, 20_000);

  it("retries a batch the journal could not take, without confirming it, and handles it once the journal works", async () => {
    const fake = await fx.startFake();
    const token = fakeToken(3);
    fake.addBot(token);
    const prefix = uniquePrefix();
    const journal = createKeys(prefix).journal("c");
    redis = new Redis(redisUrl);
    const { lines } = await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: [{ id: "c", token }] }));
    await redis.set(journal, "not a hash"); // every HSET now fails with WRONGTYPE
    fake.inject(token, message(5, "blocked"));
    await fake.waitFor(() => lines.some((l) => l.msg === "cannot write the update journal; retrying the batch"));
    expect(fake.sent(token)).toEqual([]);
    expect(fake.pendingCount(token)).toBe(1); // not confirmed to Telegram
    await redis.del(journal);
    await fake.waitForSent(token, 1, 10_000);
    expect(fake.sent(token)[0]!.text).toMatch(/\|1\|blocked$/);
  }, 20_000);

  it("replays an unfinished journal entry before polling, and skips updates Telegram redelivers", async () => {
    const fake = await fx.startFake();
    const token = fakeToken(2);
    fake.addBot(token, { firstUpdateId: 100 });
    const prefix = uniquePrefix();
    const keys = createKeys(prefix);
    redis = new Redis(redisUrl);
    // A previous run journaled update 5 (not finished) and its cursor is at 6.
    const journaled = { update_id: 5, ...message(77, "from-journal") };
    await redis.hset(keys.journal("b"), "5", JSON.stringify(journaled));
    await redis.set(keys.watermark("b"), "6");
    await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: [{ id: "b", token }] }));
    fake.inject(token, message(77, "fresh"));
    await fake.waitForSent(token, 2);
    expect(fake.sent(token).map((s) => s.text.split("|").slice(2))).toEqual([
      ["1", "from-journal"],
      ["2", "fresh"],
    ]);
    // each update leaves the journal in the commit that follows its reply: wait for that, then check
    const key = keys.journal("b");
    for (const deadline = Date.now() + 10_000; (await redis.hlen(key)) > 0 && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 10));
    expect(await redis.hlen(key)).toBe(0);
  });
});
