import type { BotSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import type { BotRegistry } from "../runtime/registry.js";
import { forwardingTarget } from "./webhook-forward.js";
import type { WebhookTarget } from "./webhook-handler.js";

/** Options of {@link createWebhookRouter}. */
export interface WebhookRouterOptions {
  /** The bots running here. */
  registry: BotRegistry;
  /** The bots of the settings in force. */
  bots: () => readonly BotSettings[];
  /** With leases: where the instance owning a bot is reached. Undefined: every bot runs here. */
  owners: { ownerUrl(botId: string): Promise<string | undefined> } | undefined;
  pathPrefix: string;
  /** How long the owner may take to answer a passed-on request (ms). */
  forwardTimeoutMs: number;
  logger: Logger;
}

/**
 * Where a webhook request for a bot goes: the bot's runner here when this instance runs it, else (with leases)
 * the instance that owns it, else nowhere (404). Only enabled bots in webhook mode have a route.
 */
export function createWebhookRouter(o: WebhookRouterOptions): (botId: string) => WebhookTarget | undefined {
  return (botId) => {
    const runner = o.registry.get(botId);
    if (runner !== undefined) return runner.settings.mode === "webhook" ? runner : undefined;
    if (o.owners === undefined) return undefined;
    const bot = o.bots().find((b) => b.id === botId);
    if (bot === undefined || !bot.enabled || bot.mode !== "webhook") return undefined;
    const { owners } = o;
    return forwardingTarget(botId, bot.webhook.secret, {
      ownerUrl: (id) => owners.ownerUrl(id),
      pathPrefix: o.pathPrefix,
      timeoutMs: o.forwardTimeoutMs,
      logger: o.logger,
    });
  };
}
