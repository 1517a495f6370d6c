import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Update } from "grammy/types";
import type { Logger } from "../logging/logger.js";
import type { WebhookOutcome } from "../runtime/webhook-intake.js";

/** The bot side of a webhook route. */
export interface WebhookTarget {
  readonly webhookSecret: string;
  /** `forwarded`: the request was passed on by another instance (see `webhook-forward.ts`). */
  receiveWebhook(update: Update, forwarded?: boolean): Promise<WebhookOutcome>;
}

/** Options of {@link createWebhookHandler}. */
export interface WebhookHandlerOptions {
  /** The webhook bot with this configured id, if any. */
  lookup: (botId: string) => WebhookTarget | undefined;
  /** True once the host drains: new requests get 503 and Telegram retries them later. */
  draining: () => boolean;
  /** False while the host is still starting and cannot route a request yet: 503, as while draining. */
  routable?: () => boolean;
  logger: Logger;
  /** Largest accepted body, in bytes. */
  maxBodyBytes?: number;
}

/** The header in which Telegram sends a bot's webhook secret. */
export const SECRET_HEADER = "x-telegram-bot-api-secret-token";
/** Marks a request one instance passed to the owner of the bot. */
export const FORWARDED_HEADER = "x-bot-host-forwarded";

// Telegram redelivers whatever did not get a 2xx; the header tells any other client when to come back.
const RETRY_AFTER_SECONDS = "1";

function reply(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string | number> = {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  };
  if (status === 503) headers["retry-after"] = RETRY_AFTER_SECONDS;
  res.writeHead(status, headers);
  res.end(body);
}

function sameSecret(given: string | string[] | undefined, expected: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function isUpdate(value: unknown): value is Update {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const id = (value as { update_id?: unknown }).update_id;
  return Number.isSafeInteger(id) && (id as number) >= 0 && Object.keys(value).length >= 2;
}

/**
 * The webhook route `<prefix>/<botId>`: checks, in order, that the host can route requests yet (503), the bot (404), the method (405), the secret header
 * (401, logged without the body), draining (503), the body size (413) and that the body is an Update (400);
 * only then does the update reach the bot. The answer is 200 once the update was handled (or acknowledged
 * as a redelivery, or handed to the background after the reply timeout).
 */
export function createWebhookHandler(o: WebhookHandlerOptions): (req: IncomingMessage, res: ServerResponse, botId: string) => void {
  const limit = o.maxBodyBytes ?? 1024 * 1024;
  const log = o.logger.child({ component: "webhook" });
  return (req, res, botId) => {
    if (o.routable?.() === false) {
      req.resume();
      return reply(res, 503, "starting");
    }
    const target = o.lookup(botId);
    if (target === undefined) return reply(res, 404, "unknown bot");
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return reply(res, 405, "method not allowed");
    }
    if (!sameSecret(req.headers[SECRET_HEADER], target.webhookSecret)) {
      log.warn({ bot: botId, remote: req.socket.remoteAddress }, "webhook request with a wrong or missing secret token rejected");
      req.resume();
      return reply(res, 401, "wrong secret token");
    }
    if (o.draining()) {
      req.resume();
      return reply(res, 503, "shutting down");
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      req.resume();
      return reply(res, 413, "body too large");
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("error", () => reply(res, 400, "bad request"));
    req.on("end", () => {
      try {
        finish();
      } catch (err) {
        log.error({ err, bot: botId }, "webhook request failed (a bug); answered 500");
        reply(res, 500, "internal error");
      }
    });
    const finish = (): void => {
      if (tooLarge) return reply(res, 413, "body too large");
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return reply(res, 400, "body is not JSON");
      }
      if (!isUpdate(body)) return reply(res, 400, "body is not a Telegram Update");
      target.receiveWebhook(body, req.headers[FORWARDED_HEADER] === "1").then(
        (outcome) => (outcome === "unavailable" ? reply(res, 503, "bot not running") : reply(res, 200, "ok")),
        (err: unknown) => {
          log.error({ err, bot: botId, update_id: body.update_id }, "webhook update could not be accepted");
          reply(res, 500, "internal error");
        },
      );
    };
  };
}
