import type { Message, Update } from "grammy/types";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LocalBotApi, type WorldEvent } from "../../src/local-api/index.js";
import { api, TOKEN as T1, TOKEN2 as T2 } from "./test-kit.js";

// The fake's simulated users and chats (fake.world): what a Telegram client sees of the bots, and what the bots get.
let fake: LocalBotApi;
let events: WorldEvent[];
const B1 = 100001;
const B2 = 100002;

beforeEach(async () => {
  fake = await LocalBotApi.start();
  fake.addBot(T1, { first_name: "Support", username: "support_bot" });
  fake.addBot(T2, { first_name: "Sales", username: "sales_bot" });
  events = [];
  fake.world.subscribe((e) => events.push(e));
});
afterEach(() => fake.stop());

const call = async <T = Message>(token: string, method: string, params: Record<string, unknown>) => {
  const a = await api<T>(fake.apiRoot, token, method, params);
  return { status: a.status, result: a.body.result as T, description: a.body.description };
};
const updates = async (token: string): Promise<Update[]> => (await call<Update[]>(token, "getUpdates", { timeout: 0 })).result;

describe("fake.world: users, private chats and groups", () => {
  it("delivers a group message to every bot of the group, with one message id the group shares with the bots' replies", async () => {
    const alice = fake.world.addUser("Alice");
    const bob = fake.world.addUser("Bob");
    const group = fake.world.createGroup("Team", [alice.id, bob.id], [B1, B2]);
    const sent = fake.world.send(bob.id, group.key, "/start@sales_bot hi");

    const [u1] = await updates(T1);
    const [u2] = await updates(T2);
    for (const u of [u1!, u2!]) {
      expect(u.message).toMatchObject({
        message_id: sent.id,
        from: { id: bob.id, is_bot: false, first_name: "Bob" },
        chat: { id: group.id, type: "supergroup", title: "Team" },
        text: "/start@sales_bot hi",
        entities: [{ type: "bot_command", offset: 0, length: "/start@sales_bot".length }],
      });
    }
    // Both bots answer in the group: the group numbers its messages once, whoever sends them.
    const r1 = await call(T1, "sendMessage", { chat_id: group.id, text: "from support", reply_parameters: { message_id: sent.id } });
    const r2 = await call(T2, "sendMessage", { chat_id: group.id, text: "from sales" });
    expect([r1.result.message_id, r2.result.message_id]).toEqual([sent.id + 1, sent.id + 2]);
    expect(fake.world.messages(group.key).map((m) => [m.from, m.text, m.reply_to])).toEqual([
      [{ kind: "user", id: bob.id }, "/start@sales_bot hi", undefined],
      [{ kind: "bot", id: B1 }, "from support", sent.id],
      [{ kind: "bot", id: B2 }, "from sales", undefined],
    ]);
    // A message Alice writes afterwards continues the group's numbering.
    expect(fake.world.send(alice.id, group.key, "thanks").id).toBe(sent.id + 3);
  });

  it("keeps each user's private chat with each bot apart, and a bot's message to a user lands in that chat", async () => {
    const alice = fake.world.addUser("Alice");
    const withSupport = fake.world.privateChat(alice.id, B1);
    fake.world.send(alice.id, withSupport.key, "hello support");
    const [u] = await updates(T1);
    expect(u!.message?.chat).toEqual({ id: alice.id, type: "private", first_name: "Alice" });
    expect(await updates(T2)).toEqual([]); // the other bot got nothing

    await call(T2, "sendMessage", { chat_id: alice.id, text: "sales here" }); // a bot may write first
    const withSales = fake.world.chats().find((c) => c.bots[0] === B2)!;
    expect(withSales).toMatchObject({ key: `private:${alice.id}:${B2}`, type: "private", id: alice.id, users: [alice.id] });
    expect(fake.world.messages(withSales.key).map((m) => m.text)).toEqual(["sales here"]);
    expect(fake.world.messages(withSupport.key).map((m) => m.text)).toEqual(["hello support"]);
    expect(() => fake.world.send(alice.id, "group:-1", "x")).toThrow(/no chat/);
  });
});

describe("fake.world: buttons, answers and alerts, edits, deletes, formatting, actions, media", () => {
  it("a press reaches the bot that sent the button; its answer, edits and delete show in the chat", async () => {
    const alice = fake.world.addUser("Alice");
    const chat = fake.world.privateChat(alice.id, B1);
    const keyboard = { inline_keyboard: [[{ text: "Yes", callback_data: "yes" }]] };
    const sent = await call(T1, "sendMessage", { chat_id: alice.id, text: "<b>Sure?</b>", parse_mode: "HTML", reply_markup: keyboard });
    expect(sent.result).toMatchObject({ text: "Sure?", entities: [{ type: "bold", offset: 0, length: 5 }], reply_markup: keyboard });

    expect(() => fake.world.press(alice.id, chat.key, sent.result.message_id, "no")).toThrow(/no button/);
    const queryId = fake.world.press(alice.id, chat.key, sent.result.message_id, "yes");
    const [u] = await updates(T1);
    expect(u!.callback_query).toMatchObject({
      id: queryId,
      data: "yes",
      from: { id: alice.id },
      message: { message_id: sent.result.message_id, text: "Sure?", reply_markup: keyboard },
    });

    expect((await call(T1, "answerCallbackQuery", { callback_query_id: queryId, text: "x".repeat(201) })).status).toBe(400);
    await call(T1, "answerCallbackQuery", { callback_query_id: queryId, text: "Done!", show_alert: true });
    expect(events.at(-1)).toMatchObject({
      type: "answer",
      chat: chat.key,
      bot: B1,
      message: sent.result.message_id,
      text: "Done!",
      show_alert: true,
    });

    // editMessageReplyMarkup without a markup removes the keyboard; the same markup again is "not modified".
    const edited = await call(T1, "editMessageReplyMarkup", { chat_id: alice.id, message_id: sent.result.message_id });
    expect(edited.result).toMatchObject({ text: "Sure?", edit_date: expect.any(Number) });
    expect(edited.result.reply_markup).toBeUndefined();
    const again = await call(T1, "editMessageReplyMarkup", { chat_id: alice.id, message_id: sent.result.message_id });
    expect([again.status, again.description]).toEqual([400, expect.stringMatching(/message is not modified/)]);
    expect(fake.world.messages(chat.key)[0]).toMatchObject({ text: "Sure?", edited: true });
    expect(fake.world.messages(chat.key)[0]!.reply_markup).toBeUndefined();

    await call(T1, "editMessageText", {
      chat_id: alice.id,
      message_id: sent.result.message_id,
      text: "*Yes* _done_",
      parse_mode: "MarkdownV2",
    });
    expect(events.at(-1)).toMatchObject({
      type: "edit",
      message: {
        text: "Yes done",
        entities: [
          { type: "bold", offset: 0, length: 3 },
          { type: "italic", offset: 4, length: 4 },
        ],
      },
    });

    expect((await call(T1, "deleteMessage", { chat_id: alice.id, message_id: sent.result.message_id })).result).toBe(true);
    expect(events.at(-1)).toEqual(expect.objectContaining({ type: "delete", chat: chat.key, id: sent.result.message_id }));
    expect(fake.world.messages(chat.key)).toEqual([]);
  });

  it("a bot cannot edit another bot's message in a group; bad markup, unknown actions and long captions are refused", async () => {
    const alice = fake.world.addUser("Alice");
    const group = fake.world.createGroup("Team", [alice.id], [B1, B2]);
    const sent = await call(T1, "sendMessage", { chat_id: group.id, text: "mine" });
    const other = await call(T2, "editMessageText", { chat_id: group.id, message_id: sent.result.message_id, text: "yours" });
    expect([other.status, other.description]).toEqual([400, "Bad Request: message can't be edited"]);

    const bad = await call(T1, "sendMessage", { chat_id: group.id, text: "1.5 <b>x", parse_mode: "HTML" });
    expect([bad.status, bad.description]).toEqual([400, expect.stringMatching(/^Bad Request: can't parse entities/)]);
    const dot = await call(T1, "sendMessage", { chat_id: group.id, text: "v1.5", parse_mode: "MarkdownV2" });
    expect(dot.description).toMatch(/character '\.' is reserved/);
    expect((await call(T1, "sendChatAction", { chat_id: group.id, action: "dancing" })).status).toBe(400);
    expect((await call(T1, "sendPhoto", { chat_id: group.id, photo: "x", caption: "y".repeat(1025) })).status).toBe(400);

    await call(T1, "sendChatAction", { chat_id: group.id, action: "typing" });
    expect(events.at(-1)).toMatchObject({ type: "action", chat: group.key, bot: B1, action: "typing" });
    const photo = await call(T1, "sendPhoto", {
      chat_id: group.id,
      photo: "https://example.org/cat.jpg",
      caption: "a <i>cat</i>",
      parse_mode: "HTML",
    });
    expect(photo.result).toMatchObject({
      caption: "a cat",
      caption_entities: [{ type: "italic", offset: 2, length: 3 }],
      photo: [expect.objectContaining({ file_id: expect.any(String) })],
    });
    await call(T2, "sendDocument", { chat_id: group.id, document: "https://example.org/report.pdf" });
    expect(
      fake.world
        .messages(group.key)
        .slice(-2)
        .map((m) => [m.media, m.text]),
    ).toEqual([
      [{ kind: "photo" }, "a cat"],
      [{ kind: "document", name: "report.pdf" }, undefined],
    ]);
    // A caption is edited with editMessageCaption; editMessageText has no text to edit there.
    const noText = await call(T1, "editMessageText", { chat_id: group.id, message_id: photo.result.message_id, text: "z" });
    expect(noText.description).toBe("Bad Request: there is no text in the message to edit");
    await call(T1, "editMessageCaption", { chat_id: group.id, message_id: photo.result.message_id, caption: "a dog" });
    expect(fake.world.messages(group.key).find((m) => m.id === photo.result.message_id)).toMatchObject({ text: "a dog", edited: true });
  });
});
