import { resolve } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { callbackQuery, command, message } from "../support/updates.js";
import { buildYaml, fakeToken, uniquePrefix, waitUntil, type LogLine } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { createKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");
const APP = resolve(import.meta.dirname, "../../dist/examples/order-desk/index.js");
const CHAT = 777; // a private chat: the same id under both bots (it is the user's id)

describe.each(["redis", "memory"] as const)("the order-desk example (conversations, menu, i18n) under two bots, %s store", (kind) => {
  const fx = useHost();
  let fake: LocalBotApi;
  let lines: LogLine[] = [];
  const shop = { id: "shop", token: fakeToken(410) };
  const deli = { id: "deli", token: fakeToken(411) };
  let prefix = "";
  const texts = (token: string, chat = CHAT): string[] =>
    fake
      .sent(token)
      .filter((s) => s.chat_id === chat)
      .map((s) => s.text);
  const nth = async (token: string, n: number, chat = CHAT): Promise<string> => {
    await fake.waitFor(() => texts(token, chat).length >= n, 10_000, `${n} messages in chat ${chat}`);
    return texts(token, chat)[n - 1]!;
  };

  async function start(): Promise<void> {
    prefix = uniquePrefix();
    fake = await fx.startFake();
    fake.addBot(shop.token);
    fake.addBot(deli.token);
    ({ lines } = await fx.start(
      buildYaml({
        apiRoot: fake.apiRoot,
        ...(kind === "redis" ? { redisUrl, prefix } : {}),
        app: APP,
        bots: [shop, deli],
        appConfig: `app_config:\n  pizzeria: "Luigi's"`,
      }),
    ));
  }

  it("keeps each bot's conversation apart in the same chat, with the host's context inside the steps", async () => {
    await start();
    fake.inject(shop.token, command(CHAT, "order"));
    expect(await nth(shop.token, 1)).toBe("What is your name?");
    fake.inject(shop.token, message(CHAT, "Alice"));
    expect(await nth(shop.token, 2)).toBe("Which size, Alice? S, M or L");
    // the same user orders from the other bot while the first order is open
    fake.inject(deli.token, command(CHAT, "order"));
    expect(await nth(deli.token, 1)).toBe("What is your name?");
    fake.inject(deli.token, message(CHAT, "Bob"));
    expect(await nth(deli.token, 2)).toBe("Which size, Bob? S, M or L");
    if (kind === "redis") {
      const redis = new Redis(redisUrl);
      const stored = (await redis.keys(`${prefix}plugin:*`)).sort();
      redis.disconnect();
      const keys = createKeys(prefix);
      expect(stored).toEqual([keys.plugin("conversations", deli.id, String(CHAT)), keys.plugin("conversations", shop.id, String(CHAT))]);
    }
    fake.inject(shop.token, message(CHAT, "xl"));
    expect(await nth(shop.token, 3)).toBe("Please answer S, M or L.");
    fake.inject(shop.token, message(CHAT, "l"));
    fake.inject(deli.token, message(CHAT, "M"));
    expect(await nth(shop.token, 4)).toBe("Thanks Alice: one L pizza from shop at Luigi's. That is order 1 in this chat.");
    expect(await nth(deli.token, 3)).toBe("Thanks Bob: one M pizza from deli at Luigi's. That is order 1 in this chat.");
    // the conversation is over: the next message falls through to the app
    fake.inject(shop.token, message(CHAT, "hi"));
    expect(await nth(shop.token, 5)).toBe("Hello from shop! Send /order to order, /menu for the menu.");
    // the session written through conversation.external counts per bot and chat
    fake.inject(shop.token, command(CHAT, "order"));
    fake.inject(shop.token, message(CHAT, "Alice"));
    fake.inject(shop.token, message(CHAT, "S"));
    expect(await nth(shop.token, 8)).toBe("Thanks Alice: one S pizza from shop at Luigi's. That is order 2 in this chat.");
    // ctx.log inside the conversation carries the bot and the update
    const taken = lines.filter((l) => l.msg === "order taken");
    expect(taken.map((l) => `${l.bot}:${l.count}`).sort()).toEqual(["deli:1", "shop:1", "shop:2"]);
    expect(taken.every((l) => typeof l.update_id === "number")).toBe(true);
    // each step's message was sent once: replays of earlier steps did not call Telegram again, and every call
    // went through the host's API path (its metrics count exactly what reached the fake)
    expect(fake.sent(shop.token).length).toBe(8);
    expect(fake.sent(deli.token).length).toBe(3);
    // (a call is counted when its answer is back at the host, just after the fake recorded it)
    const sends = async (): Promise<string | undefined> =>
      /^bot_host_api_calls_total\{bot="shop",method="sendMessage"\} (\d+)$/m.exec(await fx.host.metrics.registry.metrics())?.[1];
    await waitUntil(async () => (await sends()) === "8", "8 sendMessage calls counted by the host");
    expect(await sends()).toBe("8");
    expect(fake.sent(shop.token).length).toBe(8);
  });

  it("keeps the i18n locale per bot and chat, and a menu's counts per bot", async () => {
    await start();
    fake.inject(shop.token, command(CHAT, "language", "de"));
    expect(await nth(shop.token, 1)).toBe("Sprache auf Deutsch gestellt.");
    fake.inject(shop.token, command(CHAT, "start"));
    fake.inject(deli.token, command(CHAT, "start"));
    fake.inject(shop.token, command(CHAT + 1, "start"));
    expect(await nth(shop.token, 2)).toBe("Hallo von shop! /order zum Bestellen, /menu für das Menü.");
    expect(await nth(deli.token, 1)).toBe("Hello from deli! Send /order to order, /menu for the menu.");
    expect(await nth(shop.token, 1, CHAT + 1)).toBe("Hello from shop! Send /order to order, /menu for the menu.");
    // the German locale also holds inside a conversation of that bot
    fake.inject(shop.token, command(CHAT, "order"));
    expect(await nth(shop.token, 3)).toBe("Wie heißt du?");

    fake.inject(shop.token, command(CHAT + 2, "menu"));
    fake.inject(deli.token, command(CHAT + 2, "menu"));
    await nth(shop.token, 1, CHAT + 2);
    await nth(deli.token, 1, CHAT + 2);
    type Markup = { inline_keyboard: Array<Array<{ text: string; callback_data: string }>> };
    const edits = (token: string): Markup[] =>
      fake
        .calls(token)
        .filter((c) => c.method === "editMessageReplyMarkup")
        .map((c) => {
          const raw = c.params.reply_markup;
          return (typeof raw === "string" ? JSON.parse(raw) : raw) as Markup;
        });
    const labels = (token: string): string[] => edits(token).map((m) => m.inline_keyboard[0]![0]!.text);
    // press 👍 on the menu as the user sees it now (a menu refuses a press on an outdated rendering)
    const like = (token: string): void => {
      const menuMsg = fake.sent(token).find((s) => s.chat_id === CHAT + 2)!;
      const markup = edits(token).at(-1) ?? (menuMsg.reply_markup as Markup);
      fake.inject(token, callbackQuery(CHAT + 2, markup.inline_keyboard[0]![0]!.callback_data, { messageId: menuMsg.message_id }));
    };
    expect((fake.sent(shop.token).find((s) => s.chat_id === CHAT + 2)!.reply_markup as Markup).inline_keyboard[0]![0]!.text).toBe("👍 0");
    like(shop.token);
    await fake.waitFor(() => labels(shop.token).length === 1);
    like(shop.token);
    await fake.waitFor(() => labels(shop.token).length === 2);
    like(deli.token);
    await fake.waitFor(() => labels(deli.token).length === 1);
    expect(labels(shop.token)).toEqual(["👍 1", "👍 2"]);
    expect(labels(deli.token)).toEqual(["👍 1"]);
  });
});
