import { resolve } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Redis } from "ioredis";
import { CliProcess } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { command, message } from "../support/updates.js";
import { fakeToken, waitUntil, type LogLine } from "../support/harness.js";
import { createKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");
// the example's own bots.yaml, pointed at the fake Bot API and the test Redis through its variables
const CONFIG = resolve(import.meta.dirname, "../../examples/order-desk/bots.yaml");
const PREFIX = "order-desk:";
const CHAT = 777;
const shop = { id: "shop", token: fakeToken(430) };
const deli = { id: "deli", token: fakeToken(431) };
const up = (l: LogLine): boolean => l.msg === "all bots are up";

describe("conversations across restarts (order-desk app, real CLI, real signals)", () => {
  let fake: LocalBotApi;
  let procs: CliProcess[] = [];
  let redis: Redis;

  afterEach(async () => {
    for (const p of procs) p.kill("SIGKILL");
    procs = [];
    await fake.stop();
    redis.disconnect();
  });

  it("continues each bot's conversation after SIGTERM and after SIGKILL, sending each step's message once", async () => {
    fake = await LocalBotApi.start();
    fake.addBot(shop.token);
    fake.addBot(deli.token);
    redis = new Redis(redisUrl);
    const prefix = PREFIX;
    const keys = createKeys(prefix);
    const stale = await redis.keys(`${PREFIX}*`);
    if (stale.length > 0) await redis.del(...stale);
    const env = {
      SHOP_BOT_TOKEN: shop.token,
      DELI_BOT_TOKEN: deli.token,
      BOT_API_ROOT: fake.apiRoot,
      REDIS_URL: redisUrl,
      ORDER_DESK_LISTEN: "127.0.0.1:0",
    };
    const start = async (): Promise<CliProcess> => {
      const p = new CliProcess(["start", "--config", CONFIG], env);
      procs.push(p);
      await p.waitForLog(up);
      return p;
    };
    const texts = (token: string): string[] =>
      fake
        .sent(token)
        .filter((s) => s.chat_id === CHAT)
        .map((s) => s.text);
    const count = (token: string, text: string): number => texts(token).filter((t) => t === text).length;
    const seen = (token: string, text: string): Promise<void> => fake.waitFor(() => count(token, text) >= 1, 15_000, text);
    // the journal of a bot is empty once every update it fetched is finished and committed
    const settled = (bot: string): Promise<void> =>
      waitUntil(async () => (await redis.hlen(keys.journal(bot))) === 0, `journal of ${bot} empty`);

    // 1. both bots mid-order in the same chat, then SIGTERM
    let p = await start();
    fake.inject(shop.token, command(CHAT, "order"));
    fake.inject(deli.token, command(CHAT, "order"));
    await seen(shop.token, "What is your name?");
    await seen(deli.token, "What is your name?");
    fake.inject(shop.token, message(CHAT, "Alice"));
    fake.inject(deli.token, message(CHAT, "Bob"));
    await seen(shop.token, "Which size, Alice? S, M or L");
    await seen(deli.token, "Which size, Bob? S, M or L");
    p.kill("SIGTERM");
    expect(await p.exitCode()).toBe(0);

    p = await start();
    fake.inject(shop.token, message(CHAT, "L"));
    fake.inject(deli.token, message(CHAT, "M"));
    await seen(shop.token, "Thanks Alice: one L pizza from shop at Luigi's. That is order 1 in this chat.");
    await seen(deli.token, "Thanks Bob: one M pizza from deli at Luigi's. That is order 1 in this chat.");

    // 2. SIGKILL after a step was committed: the conversation goes on from there
    fake.inject(shop.token, command(CHAT, "order"));
    fake.inject(shop.token, message(CHAT, "Carol"));
    await seen(shop.token, "Which size, Carol? S, M or L");
    await settled("shop");
    p.kill("SIGKILL");
    await p.exitCode();
    p = await start();
    fake.inject(shop.token, message(CHAT, "S"));
    await seen(shop.token, "Thanks Carol: one S pizza from shop at Luigi's. That is order 2 in this chat.");

    // 3. SIGKILL while a step is mid-handler (its reply held by the Bot API): after the restart the update is
    //    replayed from the journal and the step runs again from the last committed state
    fake.inject(shop.token, command(CHAT, "order"));
    await fake.waitFor(() => count(shop.token, "What is your name?") === 3, 15_000, "third name question");
    await settled("shop");
    fake.delayNext(shop.token, "sendMessage", Number.POSITIVE_INFINITY);
    fake.inject(shop.token, message(CHAT, "Dave"));
    await fake.waitFor(() =>
      fake.calls(shop.token).some((c) => c.method === "sendMessage" && c.params.text === "Which size, Dave? S, M or L"),
    );
    p.kill("SIGKILL");
    await p.exitCode();
    p = await start();
    await seen(shop.token, "Which size, Dave? S, M or L");
    fake.inject(shop.token, message(CHAT, "M"));
    await seen(shop.token, "Thanks Dave: one M pizza from shop at Luigi's. That is order 3 in this chat.");
    p.kill("SIGTERM");
    expect(await p.exitCode()).toBe(0);

    // Every step's message reached the chat once, on each bot, except the one step whose update was mid-handler
    // at the SIGKILL: the call it had made before the kill may have been delivered, and the step ran again.
    const dave = count(shop.token, "Which size, Dave? S, M or L");
    expect(dave).toBeGreaterThanOrEqual(1);
    expect(dave).toBeLessThanOrEqual(2);
    for (const [token, list] of [
      [shop.token, texts(shop.token)],
      [deli.token, texts(deli.token)],
    ] as const) {
      const counts = new Map<string, number>();
      for (const t of list) counts.set(t, (counts.get(t) ?? 0) + 1);
      const repeated = [...counts].filter(([t, n]) => n > 1 && t !== "What is your name?" && !t.startsWith("Which size, Dave"));
      expect(repeated, token).toEqual([]);
    }
    expect(count(shop.token, "What is your name?")).toBe(3);
    expect(count(deli.token, "What is your name?")).toBe(1);
    // the conversations are over: no plugin state left; the session counts the orders per bot
    expect(await redis.keys(`${prefix}plugin:*`)).toEqual([]);
    expect(JSON.parse((await redis.get(keys.session("shop", String(CHAT)))) ?? "{}")).toMatchObject({ orders: 3 });
    expect(JSON.parse((await redis.get(keys.session("deli", String(CHAT)))) ?? "{}")).toMatchObject({ orders: 1 });
  }, 120_000);
});
