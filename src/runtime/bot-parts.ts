import type { Update, UserFromGetMe } from "grammy/types";
import type { BotSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import type { Throttle } from "../transport/throttle.js";
import { Admission } from "./admission.js";
import type { BotClient } from "./bot-client.js";
import type { BotRunnerShared } from "./bot-types.js";
import { Broadcaster } from "./broadcaster.js";
import type { Intake } from "./intake.js";
import type { Lease } from "./lease.js";
import { PollingIntake } from "./polling-intake.js";
import type { PollingProblem } from "./polling-supplier.js";
import { WebhookIntake } from "./webhook-intake.js";

/** What {@link buildBotParts} needs: the bot, what it shares, its identity and where its journal left off. */
export interface BotPartsOptions {
  settings: BotSettings;
  shared: BotRunnerShared;
  client: BotClient;
  log: Logger;
  lease: Lease | undefined;
  info: UserFromGetMe;
  /** Unfinished updates of an earlier run, oldest first. */
  replay: Update[];
  watermark: number | undefined;
  onHealth: (problem: PollingProblem | undefined) => void;
  onFatal: (err: unknown) => void;
}

/** What runs one bot's updates; the webhook intake again when the bot takes webhook requests. */
export interface BotParts {
  throttle: Throttle | undefined;
  broadcaster: Broadcaster;
  intake: Intake;
  webhook: WebhookIntake | undefined;
}

/**
 * Builds what runs one bot's updates: the grammY `Bot` on the shared pipeline with the host's transformers, the
 * throttle it owns, its broadcaster and its intake (long polling or webhook). Nothing is started here.
 */
export function buildBotParts(o: BotPartsOptions): BotParts {
  const { settings, shared, log, lease } = o;
  const { bot, throttle } = o.client.createBot(o.info);
  const broadcaster = new Broadcaster({
    botId: settings.id,
    api: bot.api,
    store: shared.campaigns,
    pace: settings.broadcast,
    throttled: settings.limits.outgoing !== undefined,
    observer: shared.observer,
    log,
  });
  const consume = (u: Update): Promise<void> => o.client.consume(bot, u);
  if (settings.mode === "webhook") {
    const webhook = new WebhookIntake({
      botId: settings.id,
      bot,
      journal: shared.journal,
      admission: shared.admission,
      perBot: new Admission(settings.polling.concurrency),
      logger: log,
      replyTimeoutMs: shared.webhookReplyTimeoutMs,
      replay: o.replay,
      consume,
      ...(lease === undefined ? {} : { fence: lease.token }),
    });
    return { throttle, broadcaster, intake: webhook, webhook };
  }
  const intake = new PollingIntake({
    botId: settings.id,
    getUpdates: o.client.getUpdates(),
    journal: shared.journal,
    admission: shared.admission,
    logger: log,
    polling: settings.polling,
    allowedUpdates: settings.allowedUpdates,
    replay: o.replay,
    watermark: o.watermark,
    consume,
    onHealth: o.onHealth,
    onFatal: o.onFatal,
    ...(lease === undefined ? {} : { fence: lease.token, leased: () => o.client.awaitLease() }),
  });
  return { throttle, broadcaster, intake, webhook: undefined };
}
