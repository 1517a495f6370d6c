import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logging/logger.js";
import type { Component } from "../lifecycle/component.js";
import type { HostMetrics } from "./metrics.js";
import { readinessOf, type HostStatus } from "./readiness.js";
import { parseListen } from "../config/listen.js";

/** A route handler for requests under the webhook prefix. */
export type WebhookHandler = (req: IncomingMessage, res: ServerResponse, botId: string) => void;

/** Options of {@link HttpServer}. */
export interface HttpServerOptions {
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  logger: Logger;
  metrics: HostMetrics;
  /** The host's status, for `/readyz`. */
  status: () => HostStatus;
  /** Path prefix of webhook routes (`/telegram` -> `/telegram/<botId>`). */
  webhookPrefix: string;
  webhook?: WebhookHandler;
  /** True once the host drains: every answer from then on closes its connection. */
  draining?: () => boolean;
  /** `POST /-/reload` (loopback only): reloads the config and answers with the report. */
  reload?: () => Promise<{ ok: boolean; skipped?: boolean }>;
}

// Node's default accept backlog (511) overflows when many bots' webhooks connect at once.
const LISTEN_BACKLOG = 4096;

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The request path for a log line: no query string (it may carry anything), at most 200 characters. */
function safePath(url: string | undefined): string {
  return (url ?? "/").split("?")[0]!.slice(0, 200);
}

/**
 * The one HTTP server of the host: `/healthz` (liveness), `/readyz` (every enabled bot running and not
 * draining), `/metrics` (Prometheus) and the webhook routes `<prefix>/<botId>`.
 */
export class HttpServer implements Component {
  readonly name = "http";
  private readonly server: Server;
  private readonly log: Logger;
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: HttpServerOptions) {
    this.log = o.logger.child({ component: "http" });
    this.server = createServer((req, res) => {
      // A client that keeps sending on a keep-alive connection (Telegram redelivering) would hold close() open.
      if (this.stopping !== undefined || this.o.draining?.() === true) res.setHeader("connection", "close");
      // The last boundary for a request: whatever a route throws is a 500 for this request only.
      try {
        this.route(req, res);
      } catch (err) {
        this.log.error({ err, method: req.method, path: safePath(req.url) }, "request failed (a bug); answered 500");
        if (!res.headersSent && !res.destroyed) this.json(res, 500, { error: "internal error" });
        else res.destroy();
      }
    });
    this.server.on("clientError", (_err, socket) => socket.destroy());
  }

  /** The bound address (after `start()`). */
  get address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo | null;
    return { host: a?.address ?? "", port: a?.port ?? 0 };
  }

  async start(): Promise<void> {
    const { host, port } = parseListen(this.o.listen);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.log.info({ host: this.address.host, port: this.address.port }, "HTTP server listening");
  }

  /**
   * Stops accepting connections and waits for the requests in flight, at most `graceMs` (default 2 s): the
   * updates were drained before, so what is left is answers to late requests. Idempotent.
   */
  stop(graceMs = 2_000): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve();
      const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
    return this.stopping;
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path === "/healthz") return this.json(res, 200, { status: "ok" });
    if (path === "/readyz") {
      const r = readinessOf(this.o.status());
      return this.json(res, r.ready ? 200 : 503, r);
    }
    if (path === "/metrics") {
      this.o.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": this.o.metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          this.log.error({ err }, "metrics collection failed");
          this.json(res, 500, { error: "metrics collection failed" });
        },
      );
      return;
    }
    if (path === "/-/reload" && this.o.reload !== undefined) return this.reload(req, res);
    const prefix = `${this.o.webhookPrefix}/`;
    if (this.o.webhook !== undefined && path.startsWith(prefix)) {
      const botId = decode(path.slice(prefix.length));
      if (botId === undefined) {
        req.resume();
        return this.json(res, 404, { error: "not found" });
      }
      return this.o.webhook(req, res, botId);
    }
    this.json(res, 404, { error: "not found" });
  }

  private reload(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    if (req.method !== "POST") return this.json(res, 405, { error: "use POST" });
    const remote = req.socket.remoteAddress ?? "";
    if (!(remote === "127.0.0.1" || remote === "::1" || remote === "::ffff:127.0.0.1")) {
      return this.json(res, 403, { error: "reload is only accepted from the loopback interface" });
    }
    this.o.reload?.().then(
      (report) => this.json(res, report.ok ? 200 : report.skipped === true ? 503 : 422, report),
      (err: unknown) => {
        this.log.error({ err }, "reload failed");
        this.json(res, 500, { error: "reload failed" });
      },
    );
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  }
}
