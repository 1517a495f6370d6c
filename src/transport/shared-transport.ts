import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";

// undici's index loads every dispatcher, the mock agent, the cache and fetch (about 6 MB of heap and 75 ms at
// start, measured by bench/lib/module-cost.mjs); the transport needs only the Agent. The path is internal to
// undici, so package.json pins its minor version.
const Agent = createRequire(import.meta.url)("undici/lib/dispatcher/agent.js") as typeof import("undici").Agent;

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
 * sockets, exposed as the small fetch grammY needs. grammY only reads the status and the JSON body, so the
 * response is collected straight from undici's dispatcher ({@link JsonBodyHandler}) rather than through a
 * WHATWG fetch or undici's `request` (both build a body stream per call, a large share of the CPU per update).
 */
export interface SharedTransport {
  readonly fetch: TransportFetch;
  /**
   * POSTs a JSON `body` and resolves with the parsed JSON answer, whatever its status (a Bot API error answer is a
   * JSON document too). Rejects on a network error, an answer that is not JSON, an abort of `signal`, or no answer
   * within `timeoutMs` (undici's own timers: none is made per call).
   */
  post(url: string, body: string, o: { signal?: AbortSignal | undefined; timeoutMs: number }): Promise<unknown>;
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

  const dispatch = (url: string, options: Omit<Dispatcher.DispatchOptions, "origin" | "path">, handler: JsonBodyHandler): void => {
    if (handler.settled) return;
    // grammY's URLs are `<api root>/bot<token>/<method>`: split at the first slash after the scheme.
    const slash = url.indexOf("/", url.indexOf("//") + 2);
    dispatcher.dispatch({ origin: slash < 0 ? url : url.slice(0, slash), path: slash < 0 ? "/" : url.slice(slash), ...options }, handler);
  };
  const fetch: TransportFetch = (url, init = {}) =>
    new Promise<TransportResponse>((resolve, reject) => {
      const handler = new JsonBodyHandler((status, chunks) => resolve(new BufferedResponse(status, chunks)), reject, init.signal);
      dispatch(url, { method: (init.method ?? "GET") as Dispatcher.HttpMethod, headers: init.headers, body: init.body ?? null }, handler);
    });
  const post: SharedTransport["post"] = (url, body, o) =>
    new Promise<unknown>((resolve, reject) => {
      const handler = new JsonBodyHandler((_status, chunks) => resolve(parseChunks(chunks)), reject, o.signal);
      dispatch(url, { method: "POST", headers: JSON_HEADERS, body, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs }, handler);
    });

  return {
    fetch,
    post,
    stop() {
      closing ??= dispatcher.close();
      return closing;
    },
    async destroy() {
      await dispatcher.destroy();
    },
  };
}

/** A response whose body is kept whole in memory (Bot API answers are small JSON documents). */
class BufferedResponse implements TransportResponse {
  constructor(
    readonly status: number,
    private readonly chunks: Buffer[],
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  json(): Promise<unknown> {
    try {
      return Promise.resolve(parseChunks(this.chunks));
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

const JSON_HEADERS = { "content-type": "application/json" };

/** The JSON document of a whole body; throws when it is not JSON. */
function parseChunks(chunks: readonly Buffer[]): unknown {
  return JSON.parse(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")) as unknown;
}

/**
 * undici dispatch handler that collects the body and settles a promise once (`finish` or `reject`). An abort
 * settles the promise at once, even while the request still waits for a free socket; undici drops it when it
 * reaches one.
 */
class JsonBodyHandler implements Dispatcher.DispatchHandler {
  settled = false;
  private status = 0;
  private readonly chunks: Buffer[] = [];
  private controller: Dispatcher.DispatchController | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    /** Called once with the whole answer (it may throw: the promise then rejects with that). */
    private readonly finish: (status: number, chunks: Buffer[]) => void,
    private readonly reject: (err: unknown) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal === undefined) return;
    if (signal.aborted) {
      this.fail(abortReason(signal));
      return;
    }
    this.onAbort = () => {
      this.controller?.abort(abortReason(signal));
      this.fail(abortReason(signal));
    };
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.settled) controller.abort(this.signal === undefined ? new Error("aborted") : abortReason(this.signal));
    else this.controller = controller;
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    this.status = statusCode;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (!this.settle()) return;
    try {
      this.finish(this.status, this.chunks);
    } catch (err) {
      this.reject(err);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  private fail(err: unknown): void {
    if (this.settle()) this.reject(err);
  }

  /** Marks the handler settled; false if it already was. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.onAbort !== undefined) this.signal?.removeEventListener("abort", this.onAbort);
    return true;
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(reason === undefined ? "aborted" : String(reason));
}
