import type { IncomingMessage, ServerResponse } from "node:http";
import { NOT_FOUND, type CallRunner } from "./call-runner.js";
import { closeSignal, decodePath, errorBody, parseParams, readBody, sendJson } from "./params.js";
import { ApiError, type Params } from "./types.js";

/** `/bot<token>/<method>`, also `/bot<token>/test/<method>` (Telegram's test environment). */
const ROUTE = /^\/bot([^/]+)\/(?:test\/)?([^/]+)$/;

/**
 * The HTTP side of the local Bot API: finds the token and method in the path, reads the params from the query
 * string and body, hands the call to the {@link CallRunner} and writes its answer. Connection resets can be injected.
 */
export class RequestHandler {
  /** Connection resets still to inject, by `<token> <method in lower case>`. */
  private readonly resets = new Map<string, number>();

  constructor(private readonly runner: CallRunner) {}

  /** Answers a request; an unexpected error is a 500. */
  onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      sendJson(res, 500, errorBody(new ApiError(500, `Internal Server Error: ${message}`)));
    });
  }

  /** The next `count` calls of `method` (any case) get their connection reset before any response. */
  resetNext(token: string, method: string, count: number): void {
    this.resets.set(`${token} ${method.toLowerCase()}`, count);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const arrival = this.runner.arrive();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const m = ROUTE.exec(q === -1 ? url : url.slice(0, q));
    if (m === null) {
      req.resume();
      return sendJson(res, 404, NOT_FOUND.body);
    }
    const token = decodePath(m[1]!);
    const name = m[2]!;
    let params: Params;
    try {
      params = parseParams(req.headers["content-type"], await readBody(req), q === -1 ? "" : url.slice(q + 1));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const reply = this.runner.refuse(token, name, err, at);
      return sendJson(res, reply.status, reply.body);
    }
    const resetKey = `${token} ${name.toLowerCase()}`;
    const resets = this.resets.get(resetKey) ?? 0;
    if (resets > 0) {
      // What a server does when it closes an idle keep-alive socket just as the request arrives.
      this.resets.set(resetKey, resets - 1);
      req.socket.destroy();
      return;
    }
    const reply = await this.runner.run(token, name, params, closeSignal(res), at, arrival);
    if (reply !== undefined) sendJson(res, reply.status, reply.body, reply.retryAfter);
  }
}
