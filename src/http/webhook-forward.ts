import { networkInterfaces } from "node:os";
import type { Update } from "grammy/types";
import type { Logger } from "../logging/logger.js";
import type { WebhookOutcome } from "../runtime/webhook-intake.js";
import { FORWARDED_HEADER, SECRET_HEADER, type WebhookTarget } from "./webhook-handler.js";

/** Options of {@link forwardingTarget}. */
export interface WebhookForwardOptions {
  /** The HTTP base URL of the instance owning the bot now, if any. */
  ownerUrl: (botId: string) => Promise<string | undefined>;
  /** Path prefix of webhook routes, the same on every instance (one bots.yaml). */
  pathPrefix: string;
  /** How long the owner may take to answer (its own reply timeout and a margin), in ms. */
  timeoutMs: number;
  logger: Logger;
}

/**
 * The webhook route of a leased bot that another instance owns: the request (its secret already checked here)
 * is passed to the owner, which handles it in order with the bot's other updates, and the owner's answer is
 * Telegram's answer. When there is no owner for a moment (a handover), or the owner cannot be reached, or the
 * request was itself forwarded (the lease moved on the way), the answer is 503 and Telegram delivers the
 * update again.
 */
export function forwardingTarget(botId: string, secret: string, o: WebhookForwardOptions): WebhookTarget {
  const log = o.logger.child({ component: "webhook", bot: botId });
  return {
    webhookSecret: secret,
    async receiveWebhook(update: Update, forwarded = false): Promise<WebhookOutcome> {
      if (forwarded) return "unavailable";
      const base = await o.ownerUrl(botId).catch(() => undefined);
      if (base === undefined) return "unavailable";
      try {
        const res = await fetch(`${base}${o.pathPrefix}/${encodeURIComponent(botId)}`, {
          method: "POST",
          headers: { "content-type": "application/json", [SECRET_HEADER]: secret, [FORWARDED_HEADER]: "1" },
          body: JSON.stringify(update),
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.arrayBuffer();
        return res.status === 200 ? "handled" : "unavailable";
      } catch (err) {
        log.warn(
          { err, owner: base, update_id: update.update_id },
          "could not pass a webhook request to the bot's owner; answered 503, Telegram delivers it again",
        );
        return "unavailable";
      }
    },
  };
}

/**
 * How other instances reach this one: `http.advertise_url` when set, else the bound address, with the first
 * non-internal IPv4 address of the machine when it listens on every interface.
 */
export function advertisedUrl(bound: { host: string; port: number } | undefined, configured: string | undefined): string | undefined {
  if (configured !== undefined) return configured;
  if (bound === undefined) return undefined;
  let host = bound.host;
  if (host === "0.0.0.0" || host === "::" || host === "") {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === "IPv4" && !i.internal);
    host = external?.address ?? "127.0.0.1";
  }
  return `http://${host.includes(":") ? `[${host}]` : host}:${bound.port}`;
}
