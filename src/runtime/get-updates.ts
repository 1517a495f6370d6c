import { GrammyError, HttpError } from "grammy";
import type { ApiError, Update } from "grammy/types";
import type { TransportFetch } from "../transport/shared-transport.js";

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
  fetch: TransportFetch;
  /** Gives up on a call after this many ms (the long-poll timeout plus a margin). */
  timeoutMs: number;
  /** Told about each call's outcome: `ok`, Telegram's error code, or `network`. */
  observe?: (outcome: string) => void;
}

/**
 * getUpdates straight on the shared transport. Every polling bot always has one of these calls pending, and
 * through grammY's `Api` each one also holds an `abort-controller` shim, a timer race and the bot's
 * transformers (which all pass getUpdates through untouched): the larger part of an idle bot's memory. The
 * request and the errors are the ones grammY makes, so the poller handles 401, 409 and 429 as before.
 */
export function createGetUpdates(o: GetUpdatesOptions): GetUpdates {
  const url = `${o.apiRoot}/bot${o.token}/getUpdates`;
  return async (params, signal) => {
    const local = new AbortController();
    const abort = (): void => local.abort(signal.reason);
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
    const timer = setTimeout(() => local.abort(new Error(`getUpdates got no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
    let body: ApiError | { ok: true; result: Update[] };
    try {
      const res = await o.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(params),
        signal: local.signal,
      });
      body = (await res.json()) as typeof body;
    } catch (err) {
      o.observe?.("network");
      throw new HttpError("Network request for 'getUpdates' failed!", err);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    }
    if (body.ok) {
      o.observe?.("ok");
      return body.result;
    }
    o.observe?.(String(body.error_code));
    throw new GrammyError(`Call to 'getUpdates' failed!`, body, "getUpdates", { ...params });
  };
}
