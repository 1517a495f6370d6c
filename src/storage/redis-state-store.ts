import { Redis } from "ioredis";
import type { Update } from "grammy/types";
import { BotHostError, ErrorCodes } from "../errors.js";
import { redactUrl } from "../config/token.js";
import type { Logger } from "../logging/logger.js";
import { createKeys, type KeyBuilder } from "./keys.js";
import type { CachedBotInfo, JournalState, SessionWrite, StateStore } from "./state-store.js";
import { REMEMBERED_UPDATES } from "./memory-state-store.js";

/** Options of {@link RedisStateStore}. */
export interface RedisStateStoreOptions {
  url: string;
  keyPrefix: string;
  /** Session TTL in seconds; 0 keeps sessions forever. */
  sessionTtl: number;
  logger: Logger;
  /** How long `start()` waits for the first connection, in ms. */
  connectTimeoutMs?: number;
}

// Handle an update only if it was not finished recently (done set) and is not in flight (journal hash).
const CLAIM_SCRIPT = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
return redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
`;

/** EXEC reports each command's error in its result instead of rejecting: surface the first one. */
function throwOnError(results: Array<[Error | null, unknown]> | null): void {
  const failed = results?.find(([err]) => err !== null);
  if (failed?.[0]) throw failed[0];
}

// Telegram picks a random update_id after a week without updates; a stale cursor must not outlive that.
const WATERMARK_TTL_SECONDS = 6 * 24 * 3600;

/**
 * State in Redis: sessions, the update journal and the botInfo cache, all under one key prefix.
 * While Redis is unreachable, commands wait in ioredis' offline queue and run after the reconnect, so no
 * finished update is forgotten; the loss and the recovery are each logged once.
 */
export class RedisStateStore implements StateStore {
  readonly durable = true;
  readonly name = "redis";
  readonly keys: KeyBuilder;
  private readonly redis: Redis;
  private readonly log: Logger;
  private stopping: Promise<void> | undefined;
  private connectedOnce = false;
  private lostLogged = false;

  constructor(private readonly options: RedisStateStoreOptions) {
    this.keys = createKeys(options.keyPrefix);
    this.log = options.logger.child({ component: "redis" });
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      enableAutoPipelining: true,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5_000),
    });
    this.redis.on("error", (err: Error) => {
      if (!this.connectedOnce || this.lostLogged) return;
      this.lostLogged = true;
      this.log.error({ err, url: redactUrl(options.url) }, "lost the Redis connection; reconnecting, queued writes wait");
    });
    this.redis.on("ready", () => {
      if (this.lostLogged) this.log.info({ url: redactUrl(options.url) }, "Redis connection restored");
      this.connectedOnce = true;
      this.lostLogged = false;
    });
  }

  /** The connection, for parts that keep their own counters in Redis (the flood limit). */
  get client(): Redis {
    return this.redis;
  }

  /** The live connection state, for readiness and metrics. */
  get status(): string {
    return this.redis.status;
  }

  async start(): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.redis.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (cause) {
      this.redis.disconnect();
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new BotHostError(
        ErrorCodes.REDIS_UNREACHABLE,
        `cannot connect to Redis at ${redactUrl(this.options.url)} (${reason}); check redis.url in the config and that Redis is running`,
        { cause },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async close(): Promise<void> {
    if (this.redis.status === "end") return;
    if (this.redis.status !== "ready") {
      this.redis.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.redis.quit().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.redis.disconnect();
          resolve();
        }, 2_000);
      }),
    ]);
    clearTimeout(timer);
  }

  async readSession(key: string): Promise<string | undefined> {
    return (await this.redis.get(key)) ?? undefined;
  }

  async loadJournal(botId: string): Promise<JournalState> {
    const [entries, mark] = await Promise.all([
      this.redis.hvals(this.keys.journal(botId)),
      this.redis.get(this.keys.watermark(botId)),
    ]);
    const pending = entries.map((e) => JSON.parse(e) as Update).sort((a, b) => a.update_id - b.update_id);
    return { pending, watermark: mark === null ? undefined : Number(mark) };
  }

  async appendJournal(botId: string, updates: readonly Update[]): Promise<void> {
    const last = updates[updates.length - 1];
    if (last === undefined) return;
    const fields: string[] = [];
    for (const u of updates) fields.push(String(u.update_id), JSON.stringify(u));
    throwOnError(
      await this.redis
        .multi()
        .hset(this.keys.journal(botId), ...fields)
        .set(this.keys.watermark(botId), String(last.update_id), "EX", WATERMARK_TTL_SECONDS)
        .exec(),
    );
  }

  async claim(botId: string, update: Update): Promise<boolean> {
    const id = String(update.update_id);
    const claimed = (await this.redis.eval(
      CLAIM_SCRIPT,
      2,
      this.keys.done(botId),
      this.keys.journal(botId),
      id,
      JSON.stringify(update),
    )) as number;
    return claimed === 1;
  }

  async complete(botId: string, updateId: number, write: SessionWrite | undefined, remember = false): Promise<void> {
    const tx = this.redis.multi();
    if (write !== undefined) {
      if (write.value === null) tx.del(write.key);
      else if (this.options.sessionTtl > 0) tx.set(write.key, write.value, "EX", this.options.sessionTtl);
      else tx.set(write.key, write.value);
    }
    tx.hdel(this.keys.journal(botId), String(updateId));
    if (remember) {
      tx.zadd(this.keys.done(botId), updateId, String(updateId));
      tx.zremrangebyrank(this.keys.done(botId), 0, -REMEMBERED_UPDATES - 1);
    }
    throwOnError(await tx.exec());
  }

  async getBotInfo(telegramBotId: string): Promise<CachedBotInfo | undefined> {
    const raw = await this.redis.get(this.keys.botInfo(telegramBotId));
    return raw === null ? undefined : (JSON.parse(raw) as CachedBotInfo);
  }

  async setBotInfo(telegramBotId: string, value: CachedBotInfo): Promise<void> {
    await this.redis.set(this.keys.botInfo(telegramBotId), JSON.stringify(value));
  }
}
