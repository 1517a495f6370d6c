import { Composer } from "grammy";
import { conversations, createConversation, type Conversation, type ConversationFlavor } from "@grammyjs/conversations";
import { Menu } from "@grammyjs/menu";
import { I18n, type I18nFlavor } from "@grammyjs/i18n";
import { conversationStorage, hostContext, type HostContext } from "../../src/index.js";

/**
 * The order desk: grammY's conversations, menu and i18n plugins under one shared Composer, every bot of the
 * bots.yaml running it.
 *
 * - `/order` starts a conversation (name, then size). Its state is kept per bot and chat by
 *   `conversationStorage()`, so the same user can be mid-order with two bots at once, and a restart or a
 *   SIGKILL continues where the last finished message left it.
 * - `/menu` shows a menu whose buttons read and change the chat's session: each bot has its own count.
 * - `/language de|en` switches the language of this chat with this bot (kept in the session by i18n).
 *
 * Inside the conversation `hostContext()` gives the steps `ctx.botId`, `ctx.appConfig` (`pizzeria`), `ctx.log`
 * and the host's Bot API path (throttle, retries, metrics).
 */
type Ctx = ConversationFlavor<HostContext & I18nFlavor>;
type Inner = HostContext & I18nFlavor;
type Order = Conversation<Ctx, Inner>;

const SIZES = ["S", "M", "L"];

const i18n = new I18n<HostContext & I18nFlavor>({
  defaultLocale: "en",
  useSession: true,
  // plain text in chats: no Unicode isolation marks around the placeables
  fluentBundleOptions: { useIsolating: false },
});
i18n.loadLocaleSync("en", {
  source: `
hello = Hello from { $bot }! Send /order to order, /menu for the menu.
ask-name = What is your name?
ask-size = Which size, { $name }? S, M or L
bad-size = Please answer S, M or L.
done = Thanks { $name }: one { $size } pizza from { $bot } at { $place }. That is order { $count } in this chat.
language = Language set to English.
`,
});
i18n.loadLocaleSync("de", {
  source: `
hello = Hallo von { $bot }! /order zum Bestellen, /menu für das Menü.
ask-name = Wie heißt du?
ask-size = Welche Größe, { $name }? S, M oder L
bad-size = Bitte antworte S, M oder L.
done = Danke { $name }: eine { $size } Pizza von { $bot } bei { $place }. Das ist Bestellung { $count } in diesem Chat.
language = Sprache auf Deutsch gestellt.
`,
});

/** The order flow. Code before the latest `wait()` runs again on each message, so the session is changed in `external`. */
async function order(conversation: Order, ctx: Inner): Promise<void> {
  await ctx.reply(ctx.t("ask-name"));
  const name = (await conversation.form.text()).trim();
  await ctx.reply(ctx.t("ask-size", { name }));
  let size = "";
  while (!SIZES.includes(size)) {
    const answer = await conversation.waitFor("message:text");
    size = answer.message.text.trim().toUpperCase();
    if (!SIZES.includes(size)) await answer.reply(answer.t("bad-size"));
  }
  const count = await conversation.external((outer: Ctx) => {
    const orders = (typeof outer.session.orders === "number" ? outer.session.orders : 0) + 1;
    outer.session.orders = orders;
    return orders;
  });
  const place = typeof ctx.appConfig.pizzeria === "string" ? ctx.appConfig.pizzeria : "our kitchen";
  ctx.log.info({ size, count }, "order taken");
  await ctx.reply(ctx.t("done", { name, size, bot: ctx.botId, place, count }));
}

const likes = (ctx: HostContext): number => (typeof ctx.session.likes === "number" ? ctx.session.likes : 0);

const menu = new Menu<Ctx>("likes")
  .text(
    (ctx) => `👍 ${likes(ctx)}`,
    (ctx) => {
      ctx.session.likes = likes(ctx) + 1;
      ctx.menu.update();
    },
  )
  .text("Reset", (ctx) => {
    ctx.session.likes = 0;
    ctx.menu.update();
  });

const app = new Composer<Ctx>();
app.use(i18n);
app.use(conversations<Ctx, Inner>({ storage: conversationStorage(), plugins: [hostContext(), i18n] }));
app.use(createConversation(order, "order"));
app.use(menu);

app.command("start", (ctx) => ctx.reply(ctx.t("hello", { bot: ctx.botId })));
app.command("order", (ctx) => ctx.conversation.enter("order"));
app.command("menu", (ctx) => ctx.reply(`Likes for ${ctx.botId}:`, { reply_markup: menu }));
app.command("language", async (ctx) => {
  await ctx.i18n.setLocale(ctx.match.trim() === "de" ? "de" : "en");
  await ctx.reply(ctx.t("language"));
});
app.on("message", (ctx) => ctx.reply(ctx.t("hello", { bot: ctx.botId })));

export default app;
