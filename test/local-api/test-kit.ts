import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Update } from "grammy/types";

/** Fake tokens (never real ones). */
export const TOKEN = `100001:${"a".repeat(35)}`;
export const TOKEN2 = `100002:${"b".repeat(35)}`;
export const UNKNOWN_TOKEN = `100999:${"z".repeat(35)}`;

/** The JSON body of a Bot API answer. */
export interface ApiBody<T> {
  ok: boolean;
  result?: T;
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number };
}

/** A Bot API answer as seen over HTTP. */
export interface ApiAnswer<T> {
  status: number;
  body: ApiBody<T>;
  headers: Headers;
}

/** POSTs a JSON Bot API call with global fetch. */
export async function api<T = unknown>(
  apiRoot: string,
  token: string,
  method: string,
  params: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<ApiAnswer<T>> {
  const res = await fetch(`${apiRoot}/bot${token}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(params),
    signal,
  });
  return { status: res.status, body: (await res.json()) as ApiBody<T>, headers: res.headers };
}

/** The update_ids of a getUpdates answer. */
export const ids = (a: ApiAnswer<Update[]>): number[] => (a.body.result ?? []).map((u) => u.update_id);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One update a {@link Receiver} got. */
export interface Received {
  update: Update;
  secret: string | undefined;
  at: number;
}

/** What a webhook handler answers: a status, or a status and a JSON body. */
export type WebhookAnswer = number | { status: number; body: unknown };

/** A local webhook endpoint that records what it receives. */
export interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** Starts a webhook endpoint on 127.0.0.1 whose answers come from `handle`. */
export async function receiver(handle: (update: Update) => Promise<WebhookAnswer> | WebhookAnswer): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const update = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Update;
      const secret = req.headers["x-telegram-bot-api-secret-token"];
      received.push({ update, secret: typeof secret === "string" ? secret : undefined, at: Date.now() });
      void Promise.resolve(handle(update)).then((a) => {
        if (res.destroyed) return;
        const status = typeof a === "number" ? a : a.status;
        const body = typeof a === "number" ? "" : JSON.stringify(a.body);
        res.writeHead(status, body === "" ? {} : { "content-type": "application/json" });
        res.end(body);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
