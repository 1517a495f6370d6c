import http from "node:http";
import https from "node:https";
import type { QueuedUpdate } from "./update-queue.js";

/** How a {@link WebhookDelivery} delivers. */
export interface WebhookDeliveryOptions {
  url: URL;
  secretToken?: string;
  maxConnections: number;
  /** No answer within this many ms counts as a failure. */
  timeoutMs: number;
  /** A failed update is retried after this many ms. */
  retryDelayMs: number;
  /** Whether the update is still pending (not dropped meanwhile). */
  isPending(entry: QueuedUpdate): boolean;
  /** A 2xx arrived: the update is confirmed. `reply` is the parsed JSON body if it was one. */
  onDelivered(entry: QueuedUpdate, reply: unknown): void;
  /** Any attempt ended; `error` set for failures. */
  onAttempt(entry: QueuedUpdate, status: number, error?: string): void;
}

interface ChatQueue {
  items: QueuedUpdate[];
  head: number;
}

/**
 * Delivers updates to a webhook like Telegram: the updates of one chat strictly one after another (the next only
 * after a 2xx for the previous), different chats concurrently up to `maxConnections`; a failed update (non-2xx,
 * network error, timeout) is retried after `retryDelayMs`, holding back the rest of its chat.
 */
export class WebhookDelivery {
  private readonly chats = new Map<string, ChatQueue>();
  /** Chats with an update ready to send, in turn. */
  private ready: string[] = [];
  private readyHead = 0;
  /** Chats that are ready, in flight or waiting for a retry. */
  private readonly scheduled = new Set<string>();
  private inFlight = 0;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly requests = new Set<http.ClientRequest>();
  private readonly agent: http.Agent;

  constructor(private readonly o: WebhookDeliveryOptions) {
    const isHttps = o.url.protocol === "https:";
    this.agent = isHttps
      ? new https.Agent({ keepAlive: true, maxSockets: o.maxConnections, rejectUnauthorized: false })
      : new http.Agent({ keepAlive: true, maxSockets: o.maxConnections });
  }

  /** Queues an update for delivery. */
  enqueue(entry: QueuedUpdate): void {
    if (this.closed) return;
    let q = this.chats.get(entry.key);
    if (q === undefined) {
      q = { items: [], head: 0 };
      this.chats.set(entry.key, q);
    }
    q.items.push(entry);
    if (!this.scheduled.has(entry.key)) {
      this.scheduled.add(entry.key);
      this.ready.push(entry.key);
      this.pump();
    }
  }

  /** Stops delivering: aborts requests in flight (their updates stay pending) and cancels retries. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const r of this.requests) r.destroy();
    this.requests.clear();
    this.agent.destroy();
  }

  private pump(): void {
    while (!this.closed && this.inFlight < this.o.maxConnections && this.readyHead < this.ready.length) {
      const key = this.ready[this.readyHead++]!;
      const q = this.chats.get(key);
      while (q !== undefined && q.head < q.items.length && !this.o.isPending(q.items[q.head]!)) q.head++;
      if (q === undefined || q.head >= q.items.length) {
        this.chats.delete(key);
        this.scheduled.delete(key);
        continue;
      }
      if (q.head > 1024 && q.head * 2 > q.items.length) {
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
      void this.send(key, q, q.items[q.head]!);
    }
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
  }

  private async send(key: string, q: ChatQueue, entry: QueuedUpdate): Promise<void> {
    this.inFlight++;
    let status = 0;
    let error: string | undefined;
    let reply: unknown;
    try {
      const res = await this.post(JSON.stringify(entry.update));
      status = res.status;
      if (status < 200 || status > 299) {
        error = `Wrong response from the webhook: ${status} ${http.STATUS_CODES[status] ?? ""}`.trimEnd();
      } else if (res.json) {
        try {
          reply = JSON.parse(res.body);
        } catch {
          reply = undefined;
        }
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      error = code === "ECONNREFUSED" ? "Connection refused" : (err as Error).message;
    }
    this.inFlight--;
    if (this.closed) return;
    this.o.onAttempt(entry, status, error);
    if (error === undefined) {
      this.o.onDelivered(entry, reply);
      q.head++;
      this.again(key);
    } else {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.again(key);
      }, this.o.retryDelayMs);
      this.timers.add(t);
    }
    this.pump();
  }

  /** Puts a chat back in turn (its next update, or the failed one again), or forgets it when it is drained. */
  private again(key: string): void {
    if (this.closed) return;
    this.ready.push(key);
    this.pump();
  }

  private post(body: string): Promise<{ status: number; body: string; json: boolean }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      };
      if (this.o.secretToken !== undefined) headers["x-telegram-bot-api-secret-token"] = this.o.secretToken;
      const mod = this.o.url.protocol === "https:" ? https : http;
      const req = mod.request(this.o.url, { method: "POST", headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          done(undefined, {
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8"),
            json: (res.headers["content-type"] ?? "").includes("json"),
          }),
        );
        res.on("error", (err) => done(err));
      });
      const timer = setTimeout(() => req.destroy(new Error("Read timeout expired")), this.o.timeoutMs);
      this.requests.add(req);
      const done = (err: Error | undefined, value?: { status: number; body: string; json: boolean }): void => {
        clearTimeout(timer);
        this.requests.delete(req);
        if (err !== undefined) reject(err);
        else resolve(value!);
      };
      req.on("error", (err) => done(err));
      req.end(body);
    });
  }
}
