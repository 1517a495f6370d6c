import { Agent, request } from "undici";
import type { Readable } from "node:stream";

/** The subset of a fetch `Response` that grammY's API client reads. */
export interface TransportResponse {
  readonly status: number;
  readonly ok: boolean;
  json(): Promise<unknown>;
}

/** The request options grammY passes to its `fetch` (a JSON string or a multipart stream body). */
export interface TransportInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Readable | null;
  signal?: AbortSignal;
}

/** A fetch-compatible function for grammY's `client.fetch`. */
export type TransportFetch = (url: string, init?: TransportInit) => Promise<TransportResponse>;

/** Options of {@link createSharedTransport}. */
export interface SharedTransportOptions {
  /** Upper bound of open sockets per origin (long polls plus outgoing calls must fit). */
  connections: number;
  /** How long an idle keep-alive socket is kept, in ms. */
  keepAliveTimeoutMs?: number;
}

/**
 * The one HTTP agent every bot's Bot API calls go through: a keep-alive undici pool with a bounded number of
 * sockets, exposed as the small fetch grammY needs. undici's `request` is used instead of a full WHATWG fetch
 * because grammY only reads the status and the JSON body, and the full fetch costs several times more CPU per
 * call.
 */
export interface SharedTransport {
  readonly fetch: TransportFetch;
  /** Sockets the pool may open per origin. */
  readonly connections: number;
  /** Waits for requests in flight, then closes every socket. Idempotent. */
  stop(): Promise<void>;
  /** Closes every socket at once, failing requests in flight. */
  destroy(): Promise<void>;
}

/** Creates the shared transport; see {@link SharedTransport}. */
export function createSharedTransport(options: SharedTransportOptions): SharedTransport {
  const dispatcher = new Agent({
    connections: options.connections,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    // Long polls last up to 50 s; the Bot API itself bounds them, grammY bounds every call with its own timeout.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  let closing: Promise<void> | undefined;

  const fetch: TransportFetch = async (url, init = {}) => {
    const res = await request(url, {
      method: (init.method ?? "GET") as "GET" | "POST",
      headers: init.headers,
      body: init.body ?? undefined,
      signal: init.signal,
      dispatcher,
    });
    return {
      status: res.statusCode,
      ok: res.statusCode >= 200 && res.statusCode < 300,
      json: () => res.body.json(),
    };
  };

  return {
    fetch,
    connections: options.connections,
    stop() {
      closing ??= dispatcher.close();
      return closing;
    },
    async destroy() {
      await dispatcher.destroy();
    },
  };
}
