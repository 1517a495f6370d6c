import type { UserFromGetMe } from "grammy/types";
import type { Redis } from "ioredis";
import type { KeyBuilder } from "./keys.js";

/** A cached `getMe` answer and the hash of the token it belongs to. */
export interface CachedBotInfo {
  readonly tokenHash: string;
  readonly info: UserFromGetMe;
  /** How the bot received updates when last started (a switch to polling must delete the webhook). */
  readonly mode?: "polling" | "webhook";
  /** The webhook registration this host last made (`setWebhook`), while the bot is a webhook bot. */
  readonly webhook?: WebhookRegistration;
}

/** A webhook registration as made: a fingerprint of what was sent (the secret only hashed) and when (ms). */
export interface WebhookRegistration {
  readonly fingerprint: string;
  readonly at: number;
}

/** The `getMe` cache, keyed by the bot's Telegram id (the token's number): a restart calls no `getMe`. */
export interface BotInfoStore {
  get(telegramBotId: string): Promise<CachedBotInfo | undefined>;
  set(telegramBotId: string, value: CachedBotInfo): Promise<void>;
}

/** The cache in Redis, at `botinfo:<telegramBotId>`. */
export class RedisBotInfoStore implements BotInfoStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyBuilder,
  ) {}

  async get(telegramBotId: string): Promise<CachedBotInfo | undefined> {
    const raw = await this.redis.get(this.keys.botInfo(telegramBotId));
    return raw === null ? undefined : (JSON.parse(raw) as CachedBotInfo);
  }

  async set(telegramBotId: string, value: CachedBotInfo): Promise<void> {
    await this.redis.set(this.keys.botInfo(telegramBotId), JSON.stringify(value));
  }
}

/** The cache in process memory (no Redis). */
export class MemoryBotInfoStore implements BotInfoStore {
  private readonly infos = new Map<string, CachedBotInfo>();

  async get(telegramBotId: string): Promise<CachedBotInfo | undefined> {
    return this.infos.get(telegramBotId);
  }

  async set(telegramBotId: string, value: CachedBotInfo): Promise<void> {
    this.infos.set(telegramBotId, value);
  }
}
