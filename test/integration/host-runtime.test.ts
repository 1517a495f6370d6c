import { afterEach, describe, expect, inject, it } from "vitest";
import { Redis } from "ioredis";
import { message } from "../support/updates.js";
import { buildYaml, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { createKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");

describe("many bots, one dispatcher", () => {
  const fx = useHost();
  let redis: Redis | undefined;
  // afterEach hooks run in reverse order of registration: this one before the fixture's, harmless for a client
  afterEach(() => {
    redis?.disconnect();
    redis = undefined;
  });

  const texts = (token: string): string[] => fx.fake.sent(token).map((s) => s.text);

  it("answers every chat of every bot through the one shared app, each with the right bot", async () => {
    const fake = await fx.startFake();
    const bots = [1, 2, 3].map((n) => ({ id: `bot${n}`, token: fakeToken(n) }));
    bots.forEach((b, i) => fake.addBot(b.token, { username: `bot${i + 1}_bot` }));
    await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, bots }));
    for (const b of bots) for (const chat of [11, 12, 13]) fake.inject(b.token, message(chat, `hi-${chat}`));
    for (const b of bots) await fake.waitForSent(b.token, 3);
    for (const [i, b] of bots.entries()) {
      const sent = fake.sent(b.token);
      expect(sent.map((s) => [s.chat_id, s.text]).sort()).toEqual([
        [11, `${b.id}|bot${i + 1}_bot|1|hi-11`],
        [12, `${b.id}|bot${i + 1}_bot|1|hi-12`],
        [13, `${b.id}|bot${i + 1}_bot|1|hi-13`],
      ]);
    }
  });

  it("runs one chat's updates in order, one at a time, while other chats overlap", async () => {
    const fake = await fx.startFake();
    const token = fakeToken(1);
    fake.addBot(token);
    await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, bots: [{ id: "a", token }] }));
    fake.inject(token, message(1, "a1 sleep=300 begin"));
    fake.inject(token, message(1, "a2 sleep=300 begin"));
    fake.inject(token, message(2, "b1 sleep=300 begin"));
    await fake.waitForSent(token, 6);
    const t = texts(token);
    // "begin|<label>" when a handler starts, "<bot>|<user>|<count>|<label>" when it ends
    const at = (s: string): number =>
      t.findIndex((x) => (s.startsWith("begin|") ? x === s : x.split("|").length === 4 && x.endsWith(`|${s}`)));
    // chat 1: strictly sequential
    expect(at("begin|a1")).toBeLessThan(at("a1"));
    expect(at("a1")).toBeLessThan(at("begin|a2"));
    expect(at("begin|a2")).toBeLessThan(at("a2"));
    // chat 2 started while a1 was still running
    expect(at("begin|b1")).toBeLessThan(at("a1"));
    expect(t[at("a2")]).toMatch(/^a\|.*\|2\|a2$/);
  });

  it("stores sessions under <prefix>session:{<botId>}:<chatId>, separately for the same chat id on two bots", async () => {
    const fake = await fx.startFake();
    const prefix = uniquePrefix();
    const bots = [
      { id: "alpha", token: fakeToken(1) },
      { id: "beta", token: fakeToken(2) },
    ];
    bots.forEach((b) => fake.addBot(b.token));
    await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots }));
    fake.inject(bots[0]!.token, message(42, "x1"));
    fake.inject(bots[0]!.token, message(42, "x2"));
    fake.inject(bots[1]!.token, message(42, "y1"));
    await fake.waitForSent(bots[0]!.token, 2);
    await fake.waitForSent(bots[1]!.token, 1);
    expect(texts(bots[0]!.token).map((s) => s.split("|")[2])).toEqual(["1", "2"]);
    expect(texts(bots[1]!.token).map((s) => s.split("|")[2])).toEqual(["1"]);
    redis = new Redis(redisUrl);
    const keys = createKeys(prefix);
    expect((await redis.keys(`${prefix}session:*`)).sort()).toEqual([keys.session("alpha", "42"), keys.session("beta", "42")]);
    expect(JSON.parse((await redis.get(keys.session("alpha", "42")))!)).toEqual({ count: 2 });
    expect(JSON.parse((await redis.get(keys.session("beta", "42")))!)).toEqual({ count: 1 });
  });

  it("keeps the other bots running when one token is rejected, and a throwing handler does not stop its bot", async () => {
    const fake = await fx.startFake();
    const good = { id: "good", token: fakeToken(1) };
    const bad = { id: "bad", token: fakeToken(2) };
    fake.addBot(good.token);
    const { host, lines } = await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, bots: [good, bad] }));
    const bots = host.status().bots;
    expect(bots.find((b) => b.id === "bad")).toMatchObject({ state: "failed", problem: { code: "BOT_HOST_BOT_UNAUTHORIZED" } });
    expect(bots.find((b) => b.id === "good")).toMatchObject({ state: "running" });
    fake.inject(good.token, message(5, "first throw"));
    fake.inject(good.token, message(5, "second"));
    await fake.waitForSent(good.token, 1);
    // the throwing update's session write was dropped: the count restarts at 1
    expect(texts(good.token)).toEqual([expect.stringMatching(/^good\|.*\|1\|second$/)]);
    const failed = lines.find((l) => l.msg?.startsWith("handler failed"));
    expect(failed).toMatchObject({ bot: "good", update_id: expect.any(Number) });
    const unauthorized = lines.filter((l) => l.bot === "bad" && l.code === "BOT_HOST_BOT_UNAUTHORIZED");
    expect(unauthorized).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain(bad.token.split(":")[1]);
  });

  it("does not call getMe again on a second start with unchanged tokens, and refreshes a changed token", async () => {
    const fake = await fx.startFake();
    const prefix = uniquePrefix();
    const bots = [
      { id: "a", token: fakeToken(1) },
      { id: "b", token: fakeToken(2) },
    ];
    bots.forEach((b) => fake.addBot(b.token));
    const { host: first } = await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots }));
    await first.stop();
    const { host: second } = await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots }));
    expect(fake.callCount(bots[0]!.token, "getMe")).toBe(1);
    expect(fake.callCount(bots[1]!.token, "getMe")).toBe(1);
    await second.stop();
    // same Telegram bot id, new token (revoked and reissued): the cache entry is refreshed
    const reissued = `${bots[0]!.token.split(":")[0]}:REISSUED${"y".repeat(27)}`;
    fake.addBot(reissued);
    await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: [{ id: "a", token: reissued }] }));
    expect(fake.callCount(reissued, "getMe")).toBe(1);
  });
});
