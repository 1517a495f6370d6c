import type { RedisSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import { MemoryBotInfoStore, RedisBotInfoStore, type BotInfoStore } from "./bot-info-store.js";
import type { CampaignStore } from "./campaign-store.js";
import type { DeadLetters } from "./dead-letters.js";
import type { Journal } from "./journal.js";
import { createKeys, type KeyBuilder } from "./keys.js";
import { assertCurrentKeyLayout } from "./legacy-keys.js";
import { MemoryCampaignStore } from "./memory-campaign-store.js";
import { MemoryJournal, MemoryStateStore } from "./memory-storage.js";
import { RedisCampaignStore } from "./redis-campaign-store.js";
import { RedisConnection } from "./redis-connection.js";
import { RedisDeadLetters } from "./redis-dead-letters.js";
import { RedisJournal } from "./redis-journal.js";
import { RedisStateStore } from "./redis-state-store.js";
import type { StateStore, StoreHealth } from "./state-store.js";

/**
 * Where everything durable lives: the small stores (the update journal, sessions and plugin state, the bot
 * info cache) over one key builder, and on Redis the one {@link RedisConnection} they share, which the leases,
 * the cross-process throttle and the flood counters also take their connections from.
 */
export interface Storage {
  readonly name: "redis" | "memory";
  /** `true` when state survives a restart of the process. */
  readonly durable: boolean;
  readonly keys: KeyBuilder;
  readonly journal: Journal;
  readonly state: StateStore;
  readonly botInfo: BotInfoStore;
  /** Updates set aside (see `updates.max_attempts` and `updates.handler_timeout`). */
  readonly deadLetters: DeadLetters;
  /** Broadcast campaigns and each bot's audience. */
  readonly campaigns: CampaignStore;
  /** The Redis connection owner; undefined when state lives in memory. */
  readonly redis: RedisConnection | undefined;
  /** Whether writes can be taken now (for readiness and metrics). */
  health(): StoreHealth;
  /** Connects; with Redis, also refuses to go on while the bots' keys are in an earlier layout. */
  start(): Promise<void>;
  /** Closes every connection; called after the last writer finished. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link createStorage}. */
export interface StorageOptions {
  /** Undefined: in process memory. */
  redis: RedisSettings | undefined;
  keyPrefix: string;
  /** The bots whose keys must not be in an earlier layout (see `bot-host migrate-keys`). */
  botIds: readonly string[];
  /** Every Redis connection is named `<clientName>/<purpose>` (how `CLIENT LIST` tells whose it is). */
  clientName?: string;
  logger: Logger;
  /** How long `start()` waits for Redis (ms). */
  connectTimeoutMs?: number;
  /** A health PING unanswered this long marks Redis as hung (ms). */
  pingTimeoutMs?: number;
}

/** Builds the storage `settings` name (nothing is connected until `start()`). */
export function createStorage(o: StorageOptions): Storage {
  const keys = createKeys(o.keyPrefix);
  if (o.redis === undefined) {
    const state = new MemoryStateStore();
    const campaigns = new MemoryCampaignStore();
    const journal = new MemoryJournal(state, (bot, chat, now) => campaigns.see(bot, chat, now));
    return {
      name: "memory",
      durable: false,
      keys,
      journal,
      deadLetters: journal,
      campaigns,
      state,
      botInfo: new MemoryBotInfoStore(),
      redis: undefined,
      health: () => ({ ok: true }),
      start: async () => {},
      stop: async () => {},
    };
  }
  const { redis: settings, logger } = o;
  const redis = new RedisConnection({
    settings,
    logger,
    ...(o.clientName === undefined ? {} : { clientName: o.clientName }),
    ...(o.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: o.connectTimeoutMs }),
    ...(o.pingTimeoutMs === undefined ? {} : { pingTimeoutMs: o.pingTimeoutMs }),
  });
  return {
    name: "redis",
    durable: true,
    keys,
    journal: new RedisJournal({ redis: redis.client, keys, stateTtlMs: settings.stateTtlMs, minReplicas: settings.minReplicas, logger }),
    deadLetters: new RedisDeadLetters(redis.client, keys),
    campaigns: new RedisCampaignStore(redis.client, keys),
    state: new RedisStateStore(redis.client),
    botInfo: new RedisBotInfoStore(redis.client, keys),
    redis,
    health: () => redis.health(),
    start: async () => {
      await redis.start();
      await assertCurrentKeyLayout(redis.client, o.keyPrefix, o.botIds);
      logger.info({ url: settings.displayUrl }, "connected to Redis");
    },
    stop: () => redis.stop(),
  };
}
