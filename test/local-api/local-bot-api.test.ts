import { once } from "node:events";
import { connect } from "node:net";
import { Bot } from "grammy";
import type { Message, Update } from "grammy/types";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  callbackQuery,
  chatOf,
  command,
  LocalBotApi,
  message,
  userOf,
  type LocalBotApiOptions,
  type UpdateBody,
} from "../../src/local-api/index.js";
import { api, ids, receiver, sleep, TOKEN as T1, TOKEN2 as T2, UNKNOWN_TOKEN, type Receiver } from "./test-kit.js";

let fake: LocalBotApi;
let rx: Receiver | undefined;
beforeEach(async () => {
  fake = await LocalBotApi.start({ webhookRetryDelayMs: 100 });
  fake.addBot(T1, { username: "first_bot" });
});
afterEach(async () => {
  await Promise.all([fake.stop(), rx?.close()]);
  rx = undefined;
});
const call = <T = unknown>(method: string, params: Record<string, unknown> = {}, token = T1) => api<T>(fake.apiRoot, token, method, params);
/** Replaces the fake with one started with `opts` (afterEach stops it). */
async function restart(opts: LocalBotApiOptions): Promise<void> {
  await fake.stop();
  fake = await LocalBotApi.start(opts);
  fake.addBot(T1, { username: "first_bot" });
}
const poll = (params: Record<string, unknown> = {}) => call<Update[]>("getUpdates", params);
const statusOf = async (p: Promise<{ status: number }>): Promise<number> => (await p).status;

describe("lifecycle", () => {
  it("serves on 127.0.0.1 without a trailing slash; stop() ends long polls at once and closes the port", async () => {
    expect(fake.apiRoot).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const pending = poll({ timeout: 2 }).then(
      () => "answered",
      () => "closed",
    );
    await fake.waitFor(() => fake.callCount(T1, "getUpdates") === 1);
    const t0 = Date.now();
    await fake.stop();
    expect(await pending).toBe("closed");
    expect(Date.now() - t0).toBeLessThan(500);
    await expect(fetch(`${fake.apiRoot}/bot${T1}/getMe`)).rejects.toThrow();
  });

  it("closes idle keep-alive sockets after keepAliveTimeoutMs", async () => {
    await restart({ keepAliveTimeoutMs: 150 });
    const sock = connect(Number(new URL(fake.apiRoot).port), "127.0.0.1");
    sock.write(`GET /bot${T1}/getMe HTTP/1.1\r\nHost: x\r\n\r\n`);
    const [first] = (await once(sock, "data")) as [Buffer];
    expect(first.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*connection: keep-alive/i);
    const t0 = Date.now();
    await once(sock.resume(), "close"); // closed by the server, not by us
    expect(Date.now() - t0).toBeGreaterThan(100);
    expect(Date.now() - t0).toBeLessThan(2000); // Node 20 adds 1 s to keepAliveTimeout; its default 5 s would fail
  });
});

describe("routing", () => {
  it("reads params from JSON, urlencoded, query string and multipart; any method case; /test/ paths", async () => {
    const url = (m: string) => `${fake.apiRoot}/bot${T1}/${m}`;
    await fetch(url("sendMessage"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"chat_id":1,"text":"json"}',
    });
    await fetch(url("SENDMESSAGE"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "chat_id=2&text=form+%26+more",
    });
    await fetch(url("sendmessage?chat_id=3&text=query"));
    const form = new FormData();
    form.append("chat_id", "4");
    form.append("text", "multi\r\npart");
    form.append("document", new Blob([Buffer.from("abc")]), "a.txt");
    await fetch(url("sendMessage"), { method: "POST", body: form });
    expect(fake.sent(T1).map((s) => [s.chat_id, s.text])).toEqual([
      [1, "json"],
      [2, "form & more"],
      [3, "query"],
      [4, "multi\r\npart"],
    ]);
    expect(fake.calls(T1).map((c) => c.method)).toEqual(["sendMessage", "sendMessage", "sendMessage", "sendMessage"]);
    expect(fake.calls(T1)[3]!.params.document).toEqual({ filename: "a.txt", size: 3 });
    // grammY writes the file name bare (`filename=a.txt`); Telegram takes both forms
    const bare = Buffer.from(
      '--b\r\ncontent-disposition:form-data;name="chat_id"\r\n\r\n5\r\n' +
        '--b\r\ncontent-disposition:form-data;name="doc";filename=b.txt\r\ncontent-type:application/octet-stream\r\n\r\nabcd\r\n--b--\r\n',
    );
    await fetch(url("sendDocument"), { method: "POST", headers: { "content-type": "multipart/form-data; boundary=b" }, body: bare });
    expect(fake.calls(T1)[4]!.params).toMatchObject({ chat_id: "5", doc: { filename: "b.txt", size: 4 } });
    expect((await fetch(`${fake.apiRoot}/bot${T1}/test/getMe`)).status).toBe(200);
    const other = await fetch(`${fake.apiRoot}/getMe`);
    expect([other.status, await other.json()]).toEqual([404, { ok: false, error_code: 404, description: "Not Found" }]);
  });
});

describe("bots", () => {
  it("401 for an unknown token, 404 for an unknown method, the bot id from the token", async () => {
    expect((await api(fake.apiRoot, UNKNOWN_TOKEN, "getMe")).body).toEqual({ ok: false, error_code: 401, description: "Unauthorized" });
    expect(await call("getMee")).toMatchObject({ status: 404, body: { ok: false, error_code: 404, description: "Not Found" } });
    expect((await call("getMe")).body.result).toMatchObject({
      id: 100001,
      is_bot: true,
      first_name: "Bot 100001",
      username: "first_bot",
      can_join_groups: true,
      supports_inline_queries: false,
    });
  });

  it("removeBot revokes the token: a pending long poll and later calls get 401", async () => {
    const pending = poll({ timeout: 2 });
    await fake.waitFor(() => fake.callCount(T1, "getUpdates") === 1);
    fake.removeBot(T1);
    expect(await pending).toMatchObject({ status: 401, body: { ok: false, error_code: 401, description: "Unauthorized" } });
    expect((await call("getMe")).status).toBe(401);
  });
});

describe("updates and builders", () => {
  it("inject assigns per-bot update ids from firstUpdateId; builders make realistic updates", async () => {
    fake.addBot(T2, { firstUpdateId: 500 });
    expect([fake.inject(T1, message(7, "a")), fake.inject(T1, message(7, "b"))]).toEqual([1, 2]);
    expect(fake.inject(T2, message(7, "c"))).toBe(500);
    expect(fake.injectMany(T2, [message(8, "d"), message(8, "e")])).toEqual([501, 502]);
    fake.inject(T1, callbackQuery(7, "yes", { messageId: 3 }));
    const [a, b, cq] = (await poll()).body.result!;
    expect(Object.keys(a!)[0]).toBe("update_id");
    expect(a!.message).toMatchObject({ chat: { id: 7, type: "private", first_name: "User 7" }, from: { id: 7, is_bot: false }, text: "a" });
    expect(b!.message!.message_id).toBe(a!.message!.message_id + 1);
    expect(Math.abs(a!.message!.date - Date.now() / 1000)).toBeLessThan(5);
    expect(cq!.callback_query).toMatchObject({
      data: "yes",
      from: { id: 7 },
      message: { message_id: 3, from: { id: 100001, is_bot: true } },
    });
    expect(command(-1001234567890, "start", "deep", { fromId: 5 }).message).toMatchObject({
      text: "/start deep",
      entities: [{ type: "bot_command", offset: 0, length: 6 }],
      chat: { type: "supergroup" },
      from: { id: 5 },
    });
  });

  it("offset confirms everything below it; unconfirmed updates come again", async () => {
    fake.injectMany(T1, [message(1, "1"), message(1, "2"), message(1, "3")]);
    expect(ids(await poll())).toEqual([1, 2, 3]);
    expect(ids(await poll())).toEqual([1, 2, 3]);
    expect(ids(await poll({ offset: 2 }))).toEqual([2, 3]);
    expect([fake.pendingCount(T1), fake.confirmedOffset(T1)]).toEqual([2, 2]);
    expect(ids(await poll({ offset: 1 }))).toEqual([2, 3]); // confirmed means gone
    expect(ids(await poll({ offset: 4 }))).toEqual([]);
    expect([fake.pendingCount(T1), fake.confirmedOffset(T1)]).toEqual([0, 4]);
  });

  it("a negative offset keeps the last |offset| updates; an offset far in the future is ignored", async () => {
    fake.injectMany(
      T1,
      [1, 2, 3, 4, 5].map((i) => message(1, `${i}`)),
    );
    expect(ids(await poll({ offset: 1000 }))).toEqual([1, 2, 3, 4, 5]);
    expect(fake.confirmedOffset(T1)).toBe(0);
    expect(ids(await poll({ offset: -2 }))).toEqual([4, 5]);
    expect(ids(await poll())).toEqual([4, 5]);
    expect(fake.pendingCount(T1)).toBe(2);
  });

  it("limit is 100 by default and clamped to 1..100", async () => {
    fake.injectMany(
      T1,
      Array.from({ length: 150 }, (_, i) => message(1, `m${i}`)),
    );
    const len = async (limit?: number) => (await poll(limit === undefined ? {} : { limit })).body.result!.length;
    expect([await len(), await len(0), await len(-5), await len(7), await len(500)]).toEqual([100, 1, 1, 7, 100]);
  });

  it("long polling answers as soon as an update arrives, or [] when the timeout ends", async () => {
    let t0 = Date.now();
    expect((await poll({ timeout: 1 })).body).toEqual({ ok: true, result: [] });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    t0 = Date.now();
    const waiting = poll({ timeout: 2 });
    await fake.waitFor(() => fake.callCount(T1, "getUpdates") === 2);
    const id = fake.inject(T1, message(1, "wake"));
    expect(ids(await waiting)).toEqual([id]);
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it("a long poll whose client goes away ends quietly", async () => {
    const ac = new AbortController();
    const gone = api(fake.apiRoot, T1, "getUpdates", { timeout: 2 }, ac.signal).catch((e: Error) => e.name);
    await fake.waitFor(() => fake.callCount(T1, "getUpdates") === 1);
    ac.abort();
    expect(await gone).toBe("AbortError");
    await fake.waitFor(() => fake.calls(T1)[0]!.status === 499);
    const id = fake.inject(T1, message(1, "kept"));
    expect(ids(await poll({ timeout: 1 }))).toEqual([id]);
    expect(fake.calls(T1).map((c) => c.status)).toEqual([499, 200]);
  });

  it("allowed_updates filters and drops other types, is remembered, and [] restores the default", async () => {
    fake.inject(T1, message(1, "m1"));
    const cq1 = fake.inject(T1, callbackQuery(1, "c1"));
    fake.inject(T1, message(1, "m2"));
    expect(ids(await poll({ allowed_updates: ["callback_query"] }))).toEqual([cq1]);
    expect(fake.pendingCount(T1)).toBe(1);
    fake.inject(T1, message(1, "m3"));
    const cq2 = fake.inject(T1, callbackQuery(1, "c2"));
    expect(ids(await poll({ offset: cq1 + 1 }))).toEqual([cq2]);
    const member = {
      chat: chatOf(-5),
      from: userOf(1),
      date: 0,
      old_chat_member: { status: "left", user: userOf(2) },
      new_chat_member: { status: "member", user: userOf(2) },
    };
    fake.inject(T1, { chat_member: member } as UpdateBody);
    const m4 = fake.inject(T1, message(1, "m4"));
    expect(ids(await poll({ offset: cq2 + 1, allowed_updates: [] }))).toEqual([m4]); // no chat_member by default
    const cm = fake.inject(T1, { chat_member: member } as UpdateBody);
    expect(ids(await poll({ offset: m4 + 1, allowed_updates: JSON.stringify(["chat_member"]) }))).toEqual([cm]);
    expect((await call("getWebhookInfo")).body.result).toMatchObject({ allowed_updates: ["chat_member"] });
  });

  it("stays cheap with 1,000,000 pending updates", async () => {
    const chat = chatOf(1);
    const bodies = Array.from(
      { length: 1_000_000 },
      (_, i) => ({ message: { message_id: i + 1, date: 0, chat, text: "x" } }) as UpdateBody,
    );
    expect(fake.injectMany(T1, bodies).at(-1)).toBe(1_000_000);
    const t0 = performance.now();
    for (let offset = 1; offset < 10_000; offset += 100) {
      expect([ids(await poll({ offset, limit: 100 }))[0], fake.pendingCount(T1)]).toEqual([offset, 1_000_001 - offset]);
    }
    expect(ids(await poll({ offset: 999_990 }))).toEqual(Array.from({ length: 11 }, (_, i) => 999_990 + i));
    expect(performance.now() - t0).toBeLessThan(1500);
  });
});

describe("409 conflicts", () => {
  it("a newer long poll terminates the older one; a short call does not", async () => {
    const first = poll({ timeout: 2 });
    await fake.waitFor(() => fake.callCount(T1, "getUpdates") === 1);
    const second = poll({ timeout: 2 });
    const conflict = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";
    expect((await first).body).toEqual({ ok: false, error_code: 409, description: conflict });
    expect((await poll()).status).toBe(200); // timeout 0: answered at once, the pending poll stays
    const id = fake.inject(T1, message(1, "to the newer"));
    expect(ids(await second)).toEqual([id]);
  });

  it("getUpdates while a webhook is set; setWebhook ends a pending long poll", async () => {
    const pending = poll({ timeout: 2 });
    await fake.waitFor(() => fake.callCount(T1, "getUpdates") === 1);
    await call("setWebhook", { url: "http://127.0.0.1:9/hook" });
    expect((await pending).body).toEqual({ ok: false, error_code: 409, description: "Conflict: terminated by setWebhook request" });
    const active = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
    expect(await poll()).toMatchObject({ status: 409, body: { ok: false, error_code: 409, description: active } });
  });
});

describe("429 flood waits", () => {
  it("answers the next N matching calls with retry_after; a wait holds the call's chat and counts calls that did not wait", async () => {
    fake.rateLimit(T1, { methods: ["sendMessage"], count: 2, retryAfter: 1 });
    const r1 = await call("sendMessage", { chat_id: 1, text: "a" });
    expect(r1.status).toBe(429);
    expect(r1.body).toEqual({
      ok: false,
      error_code: 429,
      description: "Too Many Requests: retry after 1",
      parameters: { retry_after: 1 },
    });
    expect(r1.headers.get("retry-after")).toBe("1");
    expect(await statusOf(call("sendMessage", { chat_id: 2, text: "b" }))).toBe(429); // the rule's second 429: chat 2
    expect((await call("getMe")).status).toBe(200); // neither chat's wait holds a call without a chat
    expect(await statusOf(call("sendMessage", { chat_id: 3, text: "c" }))).toBe(200); // nor another chat
    expect(await statusOf(poll())).toBe(200); // nor polling
    expect(fake.retryAfterViolations(T1)).toBe(0);
    expect(await statusOf(call("sendMessage", { chat_id: 1, text: "a" }))).toBe(200); // not enforced, but it did not wait
    expect(fake.retryAfterViolations(T1)).toBe(1);
    expect(fake.tooManyRequests(T1)).toBe(2);
    await sleep(1050);
    expect(await statusOf(call("sendMessage", { chat_id: 2, text: "b" }))).toBe(200);
    expect(fake.retryAfterViolations(T1)).toBe(1);
  });

  it("every k-th call; clearRateLimit; enforce answers 429 in the wait's scope until it is over", async () => {
    fake.rateLimit(T1, { methods: ["GETME"], every: 3, retryAfter: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await statusOf(call("getMe")));
    expect(statuses).toEqual([200, 200, 429, 200, 200, 429]);
    expect(fake.retryAfterViolations(T1)).toBe(3);
    fake.clearRateLimit(T1);
    expect(await Promise.all([1, 2, 3].map(() => statusOf(call("getMe"))))).toEqual([200, 200, 200]);
    fake.rateLimit(T1, { count: 1, retryAfter: 2, enforce: true });
    expect(await statusOf(call("getMe"))).toBe(429);
    // a wait of a call without a chat holds the whole bot
    expect((await call("sendMessage", { chat_id: 1, text: "x" })).body.description).toBe("Too Many Requests: retry after 2");
    fake.clearRateLimit(T1);
    fake.rateLimit(T1, { methods: ["sendMessage"], count: 1, retryAfter: 3, enforce: true });
    expect(await statusOf(call("sendMessage", { chat_id: 7, text: "x" }))).toBe(429);
    expect((await call("sendMessage", { chat_id: 7, text: "y" })).body.description).toBe("Too Many Requests: retry after 3");
    expect(await statusOf(call("sendMessage", { chat_id: 8, text: "z" }))).toBe(200);
    expect(await statusOf(call("getMe"))).toBe(200);
    expect(fake.retryAfterViolations(T1)).toBe(5); // three getMe, then one call in each held scope
    expect(fake.tooManyRequests(T1)).toBe(6);
  });
});

describe("Telegram's outgoing limits (limits option)", () => {
  it("a second message within the chat's interval gets 429 and the chat (only) waits, enforced", async () => {
    // One message per minute and chat: every call below lands well inside the interval, however slow the machine.
    await restart({ limits: { perChatPerSecond: 1 / 60 } });
    expect(await statusOf(call("sendMessage", { chat_id: 1, text: "first" }))).toBe(200);
    const second = await call("sendMessage", { chat_id: 1, text: "too soon" });
    expect(second.status).toBe(429);
    expect(second.body.parameters?.retry_after).toBeGreaterThan(50);
    expect(second.body.parameters?.retry_after).toBeLessThanOrEqual(60);
    expect(fake.retryAfterViolations(T1)).toBe(0);
    expect(await statusOf(call("sendMessage", { chat_id: 2, text: "other chat" }))).toBe(200);
    expect(await statusOf(call("getMe"))).toBe(200); // not a message
    expect(await statusOf(call("sendMessage", { chat_id: 1, text: "ignored the wait" }))).toBe(429);
    expect(fake.retryAfterViolations(T1)).toBe(1);
    expect(fake.tooManyRequests(T1)).toBe(2);
    expect(fake.sent(T1).map((s) => s.text)).toEqual(["first", "other chat"]);
  });

  it("groups: N per minute; the bot: N per second over all chats, which holds every chat", async () => {
    await restart({ limits: { perChatPerSecond: 1000, perGroupPerMinute: 3, perBotPerSecond: 1000 } });
    const group = await Promise.all([1, 2, 3, 4].map((i) => call("sendMessage", { chat_id: -100, text: `g${i}` })));
    expect(group.map((r) => r.status).sort()).toEqual([200, 200, 200, 429]);
    expect(await statusOf(call("sendMessage", { chat_id: -200, text: "other group" }))).toBe(200);
    await restart({ limits: { perBotPerSecond: 1 / 100, retryAfter: 7 } });
    expect(await statusOf(call("sendMessage", { chat_id: 10, text: "a" }))).toBe(200);
    const over = await call("sendMessage", { chat_id: 11, text: "b" });
    expect(over.body).toMatchObject({ error_code: 429, parameters: { retry_after: 7 } });
    expect(await statusOf(call("sendMessage", { chat_id: 12, text: "c" }))).toBe(429);
    expect(await statusOf(call("getMe"))).toBe(200);
    expect(fake.retryAfterViolations(T1)).toBe(1);
  });
});

describe("methods", () => {
  it("sendMessage: validation, per-chat message ids, the bot as sender, inline keyboards", async () => {
    expect((await call("sendMessage", { text: "x" })).body).toEqual({
      ok: false,
      error_code: 400,
      description: "Bad Request: chat_id is empty",
    });
    expect((await call("sendMessage", { chat_id: 5, text: "" })).body.description).toBe("Bad Request: message text is empty");
    const markup = { inline_keyboard: [[{ text: "b", callback_data: "d" }]] };
    const r = await call<Message>("sendMessage", { chat_id: 5, text: "one", reply_markup: markup });
    expect(r.body.result).toMatchObject({
      message_id: 1,
      chat: { id: 5, type: "private" },
      from: { id: 100001, is_bot: true, username: "first_bot" },
      text: "one",
      reply_markup: markup,
    });
    expect((await call<Message>("sendMessage", { chat_id: 5, text: "two" })).body.result!.message_id).toBe(2);
    expect((await call<Message>("sendMessage", { chat_id: 6, text: "other chat" })).body.result!.message_id).toBe(1);
    fake.inject(T1, { message: { message_id: 40, date: 0, chat: chatOf(6), from: userOf(6), text: "hi" } } as UpdateBody);
    expect((await call<Message>("sendMessage", { chat_id: 6, text: "after" })).body.result!.message_id).toBe(41);
    expect(fake.sent(T1).map((s) => s.text)).toEqual(["one", "two", "other chat", "after"]);
    expect(fake.sent(T1)[0]).toEqual({
      method: "sendMessage",
      chat_id: 5,
      message_id: 1,
      text: "one",
      reply_markup: markup,
      at: expect.any(Number),
    });
  });

  it("editMessageText, deleteMessage, answerCallbackQuery, other known methods", async () => {
    await call("sendMessage", { chat_id: 5, text: "one" });
    const e = await call<Message>("editMessageText", { chat_id: 5, message_id: 1, text: "one!" });
    expect(e.body.result).toMatchObject({ message_id: 1, text: "one!", edit_date: expect.any(Number) });
    expect((await call("editMessageText", { chat_id: 5, message_id: 1, text: "one!" })).body.description).toMatch(
      /^Bad Request: message is not modified/,
    );
    expect((await call("editMessageText", { chat_id: 5, message_id: 9, text: "x" })).body.description).toBe(
      "Bad Request: message to edit not found",
    );
    expect(fake.sent(T1).map((s) => [s.method, s.message_id, s.text])).toEqual([
      ["sendMessage", 1, "one"],
      ["editMessageText", 1, "one!"],
    ]);
    expect((await call("deleteMessage", { chat_id: 5, message_id: 1 })).body).toEqual({ ok: true, result: true });
    expect((await call("deleteMessage", { chat_id: 5, message_id: 9 })).body.description).toBe("Bad Request: message to delete not found");
    expect((await call("answerCallbackQuery", { callback_query_id: "1" })).body).toEqual({ ok: true, result: true });
    expect((await call("setMyCommands", { commands: [] })).body).toEqual({ ok: true, result: true });
  });

  it("setWebhook, getWebhookInfo, deleteWebhook", async () => {
    expect((await call("getWebhookInfo")).body.result).toEqual({ url: "", has_custom_certificate: false, pending_update_count: 0 });
    const hook = { url: "http://127.0.0.1:9/hook", secret_token: "s3cr3t_-", max_connections: 500, allowed_updates: ["message"] };
    expect((await call("setWebhook", hook)).body).toEqual({ ok: true, result: true, description: "Webhook was set" });
    expect((await call("setWebhook", hook)).body.description).toBe("Webhook is already set");
    expect(fake.webhook(T1)).toEqual({ ...hook, max_connections: 100 });
    expect((await call("getWebhookInfo")).body.result).toEqual({
      url: hook.url,
      has_custom_certificate: false,
      pending_update_count: 0,
      max_connections: 100,
      allowed_updates: ["message"],
    });
    expect((await call("setWebhook", { url: "ftp://x" })).body.description).toBe("Bad Request: invalid webhook URL specified");
    expect((await call("setWebhook", { url: hook.url, secret_token: "a b" })).body.description).toBe(
      "Bad Request: secret token contains unallowed characters",
    );
    expect((await call("deleteWebhook")).body).toEqual({ ok: true, result: true, description: "Webhook was deleted" });
    expect((await call("deleteWebhook")).body.description).toBe("Webhook is already deleted");
    expect(fake.webhook(T1)).toBeUndefined();
  });

  it("works with a real grammY Bot: getMe, commands, replies, callback queries, and stop() confirms the offset", async () => {
    const bot = new Bot(T1, { client: { apiRoot: fake.apiRoot } });
    let replyId = 0;
    bot.command("start", async (ctx) => {
      replyId = (await ctx.reply(`hi ${ctx.match}`, { reply_markup: { inline_keyboard: [[{ text: "ok", callback_data: "ok" }]] } }))
        .message_id;
    });
    bot.on("callback_query:data", async (ctx) => {
      await ctx.answerCallbackQuery();
      await ctx.editMessageText(`pressed ${ctx.callbackQuery.data}`);
    });
    await bot.init();
    expect(bot.botInfo).toMatchObject({ id: 100001, username: "first_bot" });
    fake.inject(T1, command(42, "start", "there"));
    const running = bot.start({ timeout: 1 });
    // the fake records the reply before it answers; the bot learns the message id only from the answer
    await fake.waitFor(() => replyId !== 0, 10_000, "the reply's answer");
    const last = fake.inject(T1, callbackQuery(42, "ok", { messageId: replyId }));
    await fake.waitForSent(T1, 2);
    await bot.stop();
    await running;
    expect(fake.sent(T1).map((s) => [s.chat_id, s.text])).toEqual([
      [42, "hi there"],
      [42, "pressed ok"],
    ]);
    expect(fake.callCount(T1, "answerCallbackQuery")).toBe(1);
    expect([fake.confirmedOffset(T1), fake.pendingCount(T1)]).toEqual([last + 1, 0]);
  });
});

describe("call log and control surface", () => {
  it("records every call in order with token, params and status; record:false keeps only counters", async () => {
    await call("getMe");
    await call("sendMessage", { chat_id: 1, text: "x" });
    await call("sendMessage", { text: "no chat" });
    await api(fake.apiRoot, UNKNOWN_TOKEN, "getMe");
    expect(fake.calls(T1).map((c) => [c.method, c.status])).toEqual([
      ["getMe", 200],
      ["sendMessage", 200],
      ["sendMessage", 400],
    ]);
    expect(fake.calls(T1)[1]).toEqual({
      token: T1,
      method: "sendMessage",
      params: { chat_id: 1, text: "x" },
      at: expect.any(Number),
      status: 200,
    });
    expect(fake.calls().map((c) => c.token)).toEqual([T1, T1, T1, UNKNOWN_TOKEN]);
    expect([fake.callCount(T1, "sendMessage"), fake.callCount(T1, "SENDMESSAGE"), fake.sentCount(T1)]).toEqual([2, 2, 1]);
    await restart({ record: false });
    for (let i = 0; i < 3; i++) await call("sendMessage", { chat_id: 1, text: "x" });
    expect([fake.callCount(T1, "sendMessage"), fake.sentCount(T1), fake.calls().length, fake.sent(T1).length]).toEqual([3, 3, 0, 0]);
    await fake.waitForSent(T1, 3);
  });

  it("waitFor and waitForSent poll and reject with a clear message", async () => {
    const t0 = Date.now();
    await fake.waitFor(() => Date.now() - t0 >= 30, 1000);
    await expect(fake.waitFor(() => false, 50, "the moon")).rejects.toThrow("LocalBotApi.waitFor: the moon still false after 50 ms");
    await call("sendMessage", { chat_id: 1, text: "only one" });
    await expect(fake.waitForSent(T1, 2, 50)).rejects.toThrow('bot 100001 sent 1 of 2 messages within 50 ms; last: "only one"');
  });

  it("failNext answers 5xx; delayNext holds calls (Infinity: until the client gives up)", async () => {
    fake.failNext(T1, "sendMessage", 502, 2);
    const send = () => call("sendMessage", { chat_id: 1, text: "x" });
    expect(await send()).toMatchObject({ status: 502, body: { ok: false, error_code: 502, description: "Bad Gateway" } });
    expect([await statusOf(send()), await statusOf(send())]).toEqual([502, 200]);
    fake.delayNext(T1, "getMe", 300);
    const t0 = Date.now();
    expect(await statusOf(call("getMe"))).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    fake.delayNext(T1, "getMe", Infinity);
    await expect(api(fake.apiRoot, T1, "getMe", {}, AbortSignal.timeout(100))).rejects.toThrow();
    await fake.waitFor(() => fake.calls(T1).at(-1)!.status === 499);
  });
});

describe("webhook delivery", () => {
  it("posts with the secret header; one chat strictly in order (retried after a failure), other chats meanwhile", async () => {
    const log: string[] = [];
    let failed = false;
    rx = await receiver(async (u) => {
      const text = u.message?.text ?? "";
      log.push(`start ${text}`);
      if (text === "a1" && !failed) return ((failed = true), 500);
      await sleep(20);
      log.push(`end ${text}`);
      return 200;
    });
    const a1 = fake.inject(T1, message(1, "a1"));
    fake.injectMany(T1, [message(1, "a2"), message(2, "b1"), message(2, "b2")]);
    await call("setWebhook", { url: rx.url, secret_token: "tok" });
    await fake.waitFor(() => fake.pendingCount(T1) === 0, 5000);
    expect(rx.received.map((r) => r.secret)).toEqual(["tok", "tok", "tok", "tok", "tok"]);
    const chat1 = rx.received.filter((r) => r.update.message!.chat.id === 1);
    expect(chat1.map((r) => r.update.message!.text)).toEqual(["a1", "a1", "a2"]);
    expect(chat1[1]!.at - chat1[0]!.at).toBeGreaterThanOrEqual(90);
    expect(log.indexOf("end b2")).toBeLessThan(log.lastIndexOf("start a1"));
    expect(log.indexOf("start a2")).toBeGreaterThan(log.indexOf("end a1"));
    expect(
      fake
        .deliveries(T1)
        .filter((d) => d.update_id === a1)
        .map((d) => d.status),
    ).toEqual([500, 200]);
    expect((await call("getWebhookInfo")).body.result).toMatchObject({
      last_error_message: "Wrong response from the webhook: 500 Internal Server Error",
    });
  });

  it("uses at most max_connections at once, and confirms an update only after a 2xx", async () => {
    let [active, peak, open] = [0, 0, (): void => undefined];
    const gate = new Promise<void>((r) => (open = r));
    rx = await receiver(async () => {
      peak = Math.max(peak, ++active);
      await gate;
      active--;
      return 200;
    });
    for (let c = 1; c <= 6; c++) fake.inject(T1, message(c, `m${c}`));
    await call("setWebhook", { url: rx.url, max_connections: 2 });
    await fake.waitFor(() => rx!.received.length === 2);
    await sleep(100);
    expect([rx.received.length, fake.pendingCount(T1)]).toEqual([2, 6]);
    open();
    await fake.waitFor(() => fake.pendingCount(T1) === 0);
    expect([peak, rx.received.length]).toEqual([2, 6]);
  });

  it("retries a webhook that does not answer in time; runs the method of a webhook reply", async () => {
    await restart({ webhookTimeoutMs: 200, webhookRetryDelayMs: 50 });
    let n = 0;
    rx = await receiver(async () => {
      if (++n === 1) await sleep(1000);
      return { status: 200, body: { method: "sendMessage", chat_id: 9, text: "from the webhook reply" } };
    });
    const id = fake.inject(T1, message(9, "x"));
    await call("setWebhook", { url: rx.url });
    await fake.waitForSent(T1, 1);
    expect(fake.deliveries(T1).map((d) => [d.update_id, d.status, d.error])).toEqual([
      [id, 0, "Read timeout expired"],
      [id, 200, undefined],
    ]);
    expect(fake.sent(T1)).toMatchObject([{ chat_id: 9, text: "from the webhook reply" }]);
  });
});

describe("robustness", () => {
  it("bad JSON gets 400, a throwing handler 500 JSON, garbage on the socket is survived", async () => {
    const bad = await fetch(`${fake.apiRoot}/bot${T1}/sendMessage`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect([bad.status, await bad.json()]).toEqual([
      400,
      { ok: false, error_code: 400, description: "Bad Request: can't parse JSON object" },
    ]);
    fake.setHandler("getChat", () => Promise.reject(new Error("boom")));
    expect(await call("getChat", { chat_id: 1 })).toMatchObject({
      status: 500,
      body: { ok: false, error_code: 500, description: "Internal Server Error: boom" },
    });
    fake.setHandler("getChat", undefined);
    expect((await call("getChat", { chat_id: 1 })).body.result).toMatchObject({ id: 1, type: "private" });
    const sock = connect(Number(new URL(fake.apiRoot).port), "127.0.0.1");
    sock.end("GARBAGE\r\n\r\n");
    await once(sock.resume(), "close");
    expect((await call("getMe")).status).toBe(200);
  });
});
