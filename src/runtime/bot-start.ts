import type { UserFromGetMe } from "grammy/types";
import type { BotSettings } from "../config/settings.js";
import { telegramBotIdOf } from "../config/token.js";
import type { Logger } from "../logging/logger.js";
import type { JournalState } from "../storage/journal.js";
import type { BotClient } from "./bot-client.js";
import { resolveBotInfo } from "./bot-info.js";
import type { BotRunnerShared } from "./bot-types.js";
import { ensureWebhook } from "./webhook-registration.js";

/** What a bot starts from: its identity, its journal, its counts. */
export interface StartState {
  info: UserFromGetMe;
  /** Whether the identity came from the cache (no getMe). */
  cached: boolean;
  journal: JournalState;
  deadLetters: number;
  audience: number;
}

/**
 * Everything a bot's start reads or registers before anything runs: its identity (cached, else `getMe`), its
 * journal and counts, and for a webhook bot with a public URL its registration with Telegram (`setWebhook` only
 * when it changed, see {@link ensureWebhook}). A restart of an unchanged bot calls no Bot API method.
 */
export async function prepareStart(o: {
  settings: BotSettings;
  shared: BotRunnerShared;
  client: BotClient;
  log: Logger;
  signal: AbortSignal;
}): Promise<StartState> {
  const { settings, shared } = o;
  o.log.debug("starting: getMe, then the journal");
  const api = o.client.api();
  const { info, cached, record } = await resolveBotInfo({
    token: settings.token,
    api,
    store: shared.botInfo,
    botId: settings.id,
    apiRoot: settings.apiRoot,
    timeoutMs: shared.startTimeoutMs,
    signal: o.signal,
    mode: settings.mode,
  });
  const [journal, deadLetters, audience] = await Promise.all([
    shared.journal.load(settings.id),
    shared.deadLetters.count(settings.id),
    shared.campaigns.audienceSize(settings.id),
  ]);
  const { url } = settings.webhook;
  if (settings.mode === "webhook" && url !== undefined && !o.signal.aborted) {
    const outcome = await ensureWebhook({
      api,
      spec: {
        url,
        secret: settings.webhook.secret,
        allowedUpdates: settings.allowedUpdates,
        maxConnections: settings.webhook.maxConnections,
      },
      record: record.webhook,
      save: (webhook) => shared.botInfo.set(telegramBotIdOf(settings.token), { ...record, webhook }),
    });
    if (outcome === "set") o.log.info({ url }, "webhook set");
  }
  return { info, cached, journal, deadLetters, audience };
}
