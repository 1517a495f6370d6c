import { createHmac } from "node:crypto";

/**
 * The secret Telegram sends with each webhook request of a bot (`X-Telegram-Bot-Api-Secret-Token`): the bot's
 * configured `webhook_secret`, else an HMAC of its id keyed by the server secret `webhook.secret`, else keyed by
 * the bot's own token (known only to this host and Telegram). Base64url fits Telegram's alphabet (A-Z, a-z,
 * 0-9, _ and -).
 */
export function webhookSecretFor(bot: { id: string; token: string; webhook_secret?: string }, serverSecret: string | undefined): string {
  if (bot.webhook_secret !== undefined) return bot.webhook_secret;
  return createHmac("sha256", serverSecret ?? bot.token)
    .update(`bot-host:webhook:${bot.id}`)
    .digest("base64url");
}
