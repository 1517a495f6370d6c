import { createHash } from "node:crypto";
import { GrammyError, type Api } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import { BotHostError, ErrorCodes } from "../errors.js";
import { telegramBotIdOf } from "../config/token.js";
import { backoffDelay, sleep } from "../transport/backoff.js";
import { toGrammySignal } from "./signal.js";
import type { BotInfoStore, CachedBotInfo } from "../storage/bot-info-store.js";

/** Options of {@link resolveBotInfo}. */
export interface ResolveBotInfoOptions {
  token: string;
  api: Api;
  store: BotInfoStore;
  botId: string;
  apiRoot: string;
  /** Give up after this long (ms) without an answer from the Bot API. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** How the bot will receive updates; a bot that polls now but did not before gets `deleteWebhook` first. */
  mode: "polling" | "webhook";
}

/** A short, non-reversible fingerprint of a token, so a changed token invalidates the cache. */
export function tokenFingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 24);
}

/**
 * The bot's own identity for `ctx.me`: from the cache (keyed by the token's bot id) when the token is
 * unchanged, otherwise from `getMe`, retried until `timeoutMs`, then cached. grammY's own `bot.init()` retries
 * forever without a deadline; this does not.
 */
export async function resolveBotInfo(o: ResolveBotInfoOptions): Promise<{ info: UserFromGetMe; cached: boolean; record: CachedBotInfo }> {
  const telegramId = telegramBotIdOf(o.token);
  const fingerprint = tokenFingerprint(o.token);
  const hit = await o.store.get(telegramId);
  if (hit !== undefined && hit.tokenHash === fingerprint) {
    if (hit.mode !== o.mode) {
      if (o.mode === "polling") await o.api.deleteWebhook({ drop_pending_updates: false }, o.signal && toGrammySignal(o.signal));
      const { webhook: _dropped, ...rest } = hit;
      const record = { ...rest, mode: o.mode };
      await o.store.set(telegramId, record);
      return { info: hit.info, cached: true, record };
    }
    return { info: hit.info, cached: true, record: hit };
  }

  const deadline = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal === undefined ? deadline : AbortSignal.any([o.signal, deadline]);
  let lastError: unknown;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const info = await o.api.getMe(toGrammySignal(signal));
      // Not known how this bot ran before: a webhook left set would make every getUpdates fail with 409.
      if (o.mode === "polling") await o.api.deleteWebhook({ drop_pending_updates: false }, toGrammySignal(signal));
      const record = { tokenHash: fingerprint, info, mode: o.mode };
      await o.store.set(telegramId, record);
      return { info, cached: false, record };
    } catch (err) {
      if (err instanceof GrammyError && err.error_code === 401) {
        throw new BotHostError(
          ErrorCodes.BOT_UNAUTHORIZED,
          `Telegram rejected the token of bot "${o.botId}" (401 Unauthorized); check it with @BotFather and fix bots.yaml`,
          { cause: err },
        );
      }
      lastError = err;
      await sleep(backoffDelay(attempt, 200, 2_000), signal).catch(() => undefined);
    }
  }
  if (o.signal?.aborted) throw o.signal.reason;
  throw new BotHostError(
    ErrorCodes.BOT_API_UNREACHABLE,
    `bot "${o.botId}" could not reach the Bot API at ${o.apiRoot} within ${Math.round(o.timeoutMs / 1000)} s; check api_root and the network`,
    { cause: lastError },
  );
}
