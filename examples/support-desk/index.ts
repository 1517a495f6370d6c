import { Composer, InlineKeyboard } from "grammy";
import type { HostContext } from "../../src/index.js";

/**
 * The support desk: members ask with `/help <question>`; the question goes to every admin chat listed in
 * `app_config.admin_chats` with *Answer* and *Delete* buttons; the admin who presses *Answer* is asked for
 * the reply, and their next message goes back to the member.
 *
 * The admin's pending step lives in the admin chat's session (`ctx.session`, stored per bot and chat), never
 * in a variable of this module: while one admin is mid-answer, every other chat and every other bot is
 * served at once. Everything needed to route the answer travels in the button's callback data.
 */
interface PendingAnswer {
  chatId: number;
}

function adminChats(ctx: HostContext): number[] {
  const list = ctx.appConfig.admin_chats;
  return Array.isArray(list) ? list.filter((x): x is number => typeof x === "number") : [];
}

function pendingOf(ctx: HostContext): PendingAnswer | undefined {
  const p = ctx.session.pending as PendingAnswer | undefined;
  return p !== undefined && typeof p.chatId === "number" ? p : undefined;
}

const app = new Composer<HostContext>();

app.command("start", (ctx) => ctx.reply("Hello! Send /help followed by your question and the support team will answer here."));

app.command("help", async (ctx) => {
  const question = ctx.match.trim();
  if (question.length < 3) {
    await ctx.reply("Please describe your problem: /help <your question>");
    return;
  }
  const admins = adminChats(ctx);
  if (admins.length === 0) {
    await ctx.reply("Sorry, no support staff is configured for this bot yet.");
    return;
  }
  const name = ctx.from?.first_name ?? "someone";
  const keyboard = new InlineKeyboard().text("Answer", `answer:${ctx.chat.id}`).text("Delete", "delete");
  for (const admin of admins) {
    await ctx.api.sendMessage(admin, `Help request from ${name} (chat ${ctx.chat.id}):\n${question}`, {
      reply_markup: keyboard,
    });
  }
  await ctx.reply("Thanks! Your question was sent to the support team.");
});

app.callbackQuery(/^answer:(-?\d+)$/, async (ctx) => {
  const chatId = Number(ctx.match[1]);
  ctx.session.pending = { chatId } satisfies PendingAnswer;
  await ctx.answerCallbackQuery();
  await ctx.reply(`Type your answer to chat ${chatId}; your next message is sent there.`);
});

app.callbackQuery("delete", async (ctx) => {
  await ctx.answerCallbackQuery({ text: "Deleted" });
  await ctx.editMessageText("(request deleted)");
});

app.on("message:text", async (ctx, next) => {
  const pending = pendingOf(ctx);
  if (pending === undefined) return next();
  delete ctx.session.pending;
  await ctx.api.sendMessage(pending.chatId, `Answer from support:\n${ctx.message.text}`);
  await ctx.reply(`Sent to chat ${pending.chatId}.`);
});

app.on("message", (ctx) => ctx.reply("Send /help followed by your question."));

export default app;
