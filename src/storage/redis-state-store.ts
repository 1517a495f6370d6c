import type { Redis } from "ioredis";
import type { StateStore } from "./state-store.js";

/** Sessions and plugin state in Redis, read by full key; `RedisJournal.complete` writes them. */
export class RedisStateStore implements StateStore {
  constructor(private readonly redis: Redis) {}

  async read(key: string): Promise<string | undefined> {
    return (await this.redis.get(key)) ?? undefined;
  }
}
