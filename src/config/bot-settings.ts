import type { BotConfig, Config, Mode, UpdateType } from "./load.js";
import { webhookSecretFor } from "./webhook-secret.js";

/**
 * Everything one bot runs with, resolved once from bots.yaml: the bot's own values, the file's defaults for
 * what it leaves out, and what is derived (its webhook URL and secret). The runtime takes these as they are.
 */
export interface BotSettings {
  readonly id: string;
  readonly token: string;
  readonly mode: Mode;
  readonly allowedUpdates: readonly UpdateType[] | undefined;
  /** getUpdates batch size and long-poll seconds; updates in flight for this bot. */
  readonly polling: { readonly limit: number; readonly timeout: number; readonly concurrency: number };
  readonly webhook: {
    /** Where `setWebhook` points, or undefined when no `webhook.public_url` is set (the webhook is managed elsewhere). */
    readonly url: string | undefined;
    /** The secret Telegram must send with each request. */
    readonly secret: string;
    readonly maxConnections: number;
  };
}

/** Resolves the settings of `bot`, one of `config.bots`. */
export function resolveBot(config: Config, bot: BotConfig): BotSettings {
  const { public_url: publicUrl, path_prefix: pathPrefix } = config.webhook;
  return {
    id: bot.id,
    token: bot.token,
    mode: bot.mode,
    allowedUpdates: bot.allowed_updates,
    polling: { limit: config.polling.limit, timeout: config.polling.timeout, concurrency: config.polling.concurrency },
    webhook: {
      url: publicUrl === undefined ? undefined : `${publicUrl}${pathPrefix}/${bot.id}`,
      secret: webhookSecretFor(bot, config.webhook.secret),
      maxConnections: config.webhook.max_connections,
    },
  };
}
