import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { fileURLToPath } from "node:url";
import type { Logger } from "../logging/logger.js";
import type { Session } from "./session.js";
import { handleApi, type ApiReply } from "./api.js";

/** The page's files: `playground/` at the package root (from `dist/src/playground/` or `src/playground/`). */
const ASSETS = [new URL("../../../playground/", import.meta.url), new URL("../../playground/", import.meta.url)]
  .map((u) => fileURLToPath(u))
  .find((dir) => existsSync(`${dir}index.html`));

const TYPES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "render.js": "text/javascript; charset=utf-8",
  "panel.js": "text/javascript; charset=utf-8",
  "state.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};
const MAX_BODY = 64 * 1024;

/**
 * The page's own HTTP server (not the host's: the host child is restarted and killed from the page). Serves the
 * static page under `/playground`, its JSON API under `/playground/api/`, and live events as Server-Sent Events.
 */
export class PlaygroundServer {
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    private readonly session: Session,
    private readonly log: Logger,
    readonly url: string,
  ) {}

  static async start(session: Session, listen: { host: string; port: number }, log: Logger): Promise<PlaygroundServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listen.port, listen.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host === "0.0.0.0" ? "127.0.0.1" : listen.host;
    const self = new PlaygroundServer(server, session, log, `http://${host}:${port}/playground`);
    server.on("request", (req, res) => self.onRequest(req, res));
    server.on("connection", (s: Socket) => {
      self.sockets.add(s);
      s.once("close", () => self.sockets.delete(s));
    });
    server.on("clientError", (_e, s: Socket) => s.destroy());
    return self;
  }

  /** Ends the event streams and closes the server. */
  async close(): Promise<void> {
    for (const res of this.streams) res.end();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.route(req, res).catch((err: unknown) => {
      this.log.warn({ err }, "playground request failed");
      if (!res.headersSent) reply(res, { status: 500, body: { error: "internal error" } });
      else res.destroy();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname;
    if (path === "/" || path === "/playground") return redirect(res, "/playground/");
    if (path === "/playground/api/events") return this.events(req, res, url);
    if (path.startsWith("/playground/api/")) {
      const body = req.method === "POST" ? await readJson(req) : undefined;
      if (body instanceof Error) return reply(res, { status: body.message === "too large" ? 413 : 400, body: { error: body.message } });
      return reply(res, await handleApi(this.session, req.method ?? "GET", path.slice("/playground/api/".length), url.searchParams, body));
    }
    if (req.method !== "GET" && req.method !== "HEAD") return reply(res, { status: 405, body: { error: "method not allowed" } });
    const name = path === "/playground/" ? "index.html" : path.slice("/playground/".length);
    const type = TYPES[name];
    if (!path.startsWith("/playground/") || type === undefined || ASSETS === undefined)
      return reply(res, { status: 404, body: { error: "not found" } });
    const data = await readFile(`${ASSETS}${name}`);
    res.writeHead(200, { "content-type": type, "content-length": data.length, "cache-control": "no-cache" });
    res.end(req.method === "HEAD" ? undefined : data);
  }

  /** Server-Sent Events: world events (`world`), host status (`host`) and host log lines (`log`). */
  private events(req: IncomingMessage, res: ServerResponse, url: URL): void {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    res.write("retry: 1000\n\n");
    const send = (event: string, data: unknown, id?: number): void => {
      if (!res.writableEnded) res.write(`event: ${event}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`);
    };
    const after = Number(req.headers["last-event-id"] ?? url.searchParams.get("after") ?? 0) || 0;
    for (const e of this.session.fake.world.events(after)) send("world", e, e.seq);
    const unsubscribe = this.session.fake.world.subscribe((e) => send("world", e, e.seq));
    const onStatus = (s: unknown): void => send("host", s);
    const onLine = (l: unknown): void => send("log", l);
    this.session.host.on("status", onStatus);
    this.session.host.on("line", onLine);
    send("host", this.session.host.status);
    const ping = setInterval(() => !res.writableEnded && res.write(": ping\n\n"), 15_000);
    this.streams.add(res);
    res.once("close", () => {
      clearInterval(ping);
      unsubscribe();
      this.session.host.off("status", onStatus);
      this.session.host.off("line", onLine);
      this.streams.delete(res);
    });
  }
}

function reply(res: ServerResponse, r: ApiReply): void {
  const text = JSON.stringify(r.body);
  res.writeHead(r.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

function redirect(res: ServerResponse, to: string): void {
  res.writeHead(302, { location: to, "content-length": 0 });
  res.end();
}

/**
 * A POST's JSON body, or an Error to answer 400/413. Only `application/json` is accepted: a page of another origin
 * cannot send that without a CORS preflight, which this server never grants.
 */
function readJson(req: IncomingMessage): Promise<unknown> {
  if (!(req.headers["content-type"] ?? "").toLowerCase().startsWith("application/json")) {
    req.resume();
    return Promise.resolve(new Error("send JSON (content-type: application/json)"));
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        resolve(new Error("too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => {
      try {
        resolve(chunks.length === 0 ? {} : (JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown));
      } catch {
        resolve(new Error("the body is not JSON"));
      }
    });
    req.on("error", () => resolve(new Error("request aborted")));
  });
}
