import { GrammyError, HttpError } from "grammy";
import type { ApiError, Update } from "grammy/types";
import type { SharedTransport } from "../transport/shared-transport.js";

/** The getUpdates parameters the poller sends. */
export interface GetUpdatesParams {
  offset?: number;
  limit: number;
  timeout: number;
  allowed_updates?: readonly string[];
}

/** Calls getUpdates; rejects like a grammY API call (GrammyError for an error answer, HttpError otherwise). */
export type GetUpdates = (params: GetUpdatesParams, signal: AbortSignal) => Promise<Update[]>;

/** Options of {@link createGetUpdates}. */
export interface GetUpdatesOptions {
  apiRoot: string;
  token: string;
  post: SharedTransport["post"];
  /** Gives up on a call after this many ms (the long-poll timeout plus a margin). */
  timeoutMs: number;
  /** Told about each call's outcome: `ok`, Telegram's error code, or `network`. */
  observe?: (outcome: string) => void;
}

/**
 * getUpdates straight on the shared transport. Every polling bot always has one of these calls pending, and
 * through grammY's `Api` each one also holds an `abort-controller` shim, a timer race and the bot's
 * transformers (which all pass getUpdates through untouched): the larger part of an idle bot's memory. Here it
 * holds only the transport's request, with undici's own timeout and the caller's signal. The request and the
 * errors are the ones grammY makes, so the poller handles 401, 409 and 429 as before.
 */
export function createGetUpdates(o: GetUpdatesOptions): GetUpdates {
  const url = `${o.apiRoot}/bot${o.token}/getUpdates`;
  return async (params, signal) => {
    let body: ApiError | { ok: true; result: Update[] };
    try {
      body = (await o.post(url, JSON.stringify(params), { signal, timeoutMs: o.timeoutMs })) as typeof body;
    } catch (err) {
      o.observe?.("network");
      throw new HttpError("Network request for 'getUpdates' failed!", err);
    }
    if (body.ok) {
      o.observe?.("ok");
      return body.result;
    }
    o.observe?.(String(body.error_code));
    throw new GrammyError(`Call to 'getUpdates' failed!`, body, "getUpdates", { ...params });
  };
}
