import { Redis } from "ioredis";
import type { CampaignState } from "../storage/campaign-store.js";
import { createKeys, type KeyBuilder } from "../storage/keys.js";
import { RedisCampaignStore } from "../storage/redis-campaign-store.js";

/** What the side panel shows for one chat of one bot. */
export interface ChatState {
  /** The chat's session as stored (null when none); undefined when state is in memory. */
  session?: unknown;
  /** Plugin state of the chat: namespace -> value. */
  plugins?: Record<string, unknown>;
  /** Updates fetched and not finished (HLEN of the bot's journal). */
  journal?: number;
  /** `bot_host_updates_in_flight` of the bot, from the host's /metrics. */
  inFlight?: number;
  /** `bot_host_dead_letters` of the bot (updates set aside), from the host's /metrics. */
  deadLetters?: number;
  /** The bot's latest broadcast campaign, with its progress (Redis only). */
  campaign?: CampaignState;
  /** Why a value is missing. */
  notes: string[];
}

/** Reads a chat's state where the host keeps it: Redis for sessions, plugins and journal; /metrics for in-flight. */
export class StateInspector {
  private readonly redis: Redis | undefined;
  private readonly keys: KeyBuilder | undefined;
  private readonly prefix: string;

  constructor(
    state: { url: string; keyPrefix: string } | undefined,
    private readonly metricsPort: () => number | undefined,
  ) {
    if (state !== undefined) {
      this.redis = new Redis(state.url, { maxRetriesPerRequest: 1, enableOfflineQueue: true, lazyConnect: false });
      this.redis.on("error", () => undefined); // the page shows the failure of each read instead
      this.keys = createKeys(state.keyPrefix);
    }
    this.prefix = state?.keyPrefix ?? "";
  }

  async chat(botId: string, chatId: number): Promise<ChatState> {
    const out: ChatState = { notes: [] };
    const [, counts] = await Promise.all([this.stored(botId, chatId, out), this.counts(botId, out)]);
    if (counts !== undefined) {
      out.inFlight = counts.inFlight;
      out.deadLetters = counts.deadLetters;
    }
    return out;
  }

  /** Deletes every key under the prefix (a fresh playground session in a Redis the playground did not start). */
  async clear(): Promise<number> {
    if (this.redis === undefined) return 0;
    let n = 0;
    let cursor = "0";
    do {
      const [next, keys] = await this.redis.scan(cursor, "MATCH", `${escapeGlob(this.prefix)}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) n += await this.redis.del(...keys);
    } while (cursor !== "0");
    return n;
  }

  async close(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }

  private async stored(botId: string, chatId: number, out: ChatState): Promise<void> {
    if (this.redis === undefined || this.keys === undefined) {
      out.notes.push("state is in memory inside the host process: not readable from here");
      return;
    }
    try {
      const chat = String(chatId);
      const pattern = escapeGlob(this.keys.plugin("\u0000", botId, chat)).replace("\u0000", "*");
      const [session, journal, pluginKeys] = await Promise.all([
        this.redis.get(this.keys.session(botId, chat)),
        this.redis.hlen(this.keys.journal(botId)),
        scanAll(this.redis, pattern),
      ]);
      out.session = parse(session);
      out.journal = journal;
      const [latest] = await new RedisCampaignStore(this.redis, this.keys).list(botId);
      if (latest !== undefined) out.campaign = latest;
      out.plugins = {};
      if (pluginKeys.length > 0) {
        const values = await this.redis.mget(...pluginKeys);
        const head = `${this.prefix}plugin:`;
        const tail = this.keys.plugin("", botId, chat).slice(head.length);
        pluginKeys.forEach((k, i) => (out.plugins![k.slice(head.length, k.length - tail.length)] = parse(values[i] ?? null)));
      }
    } catch (err) {
      out.notes.push(`Redis: ${(err as Error).message}`);
    }
  }

  /** The bot's updates in flight and dead letters, from the host's /metrics (in memory mode too). */
  private async counts(botId: string, out: ChatState): Promise<{ inFlight: number; deadLetters: number } | undefined> {
    const port = this.metricsPort();
    if (port === undefined) {
      out.notes.push("the host is not running");
      return undefined;
    }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
      const text = await res.text();
      const bot = botId.replace(/[^\w-]/g, "");
      const gauge = (name: string): number => Number(new RegExp(`^${name}\\{bot="${bot}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
      return { inFlight: gauge("bot_host_updates_in_flight"), deadLetters: gauge("bot_host_dead_letters") };
    } catch (err) {
      out.notes.push(`metrics: ${(err as Error).message}`);
      return undefined;
    }
  }
}

async function scanAll(redis: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== "0" && out.length < 100);
  return out;
}

function parse(json: string | null): unknown {
  if (json === null) return null;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}
