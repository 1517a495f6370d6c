import type { Update } from "grammy/types";
import type { Redis } from "ioredis";
import { deadLetterOf, type DeadLetter, type DeadLetterRecord, type DeadLetters } from "./dead-letters.js";
import { defineScripts, type ScriptedRedis } from "./journal-scripts.js";
import type { KeyBuilder } from "./keys.js";

/** The dead letters in Redis, at `dead:{<botId>}` (see `keys.ts`), set aside by the journal's scripts. */
export class RedisDeadLetters implements DeadLetters {
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly keys: KeyBuilder,
  ) {
    this.redis = defineScripts(redis);
  }

  async list(botId: string): Promise<DeadLetter[]> {
    const all = await this.redis.hgetall(this.keys.deadLetters(botId));
    const letters: DeadLetter[] = [];
    for (const [field, record] of Object.entries(all)) {
      if (field.startsWith("u:")) continue;
      const update = all[`u:${field}`];
      if (update === undefined) continue;
      letters.push(deadLetterOf(botId, JSON.parse(update) as Update, JSON.parse(record) as DeadLetterRecord));
    }
    return letters.sort((a, b) => a.update.update_id - b.update.update_id);
  }

  async count(botId: string): Promise<number> {
    // Two fields per letter: its record and its update.
    return Math.floor((await this.redis.hlen(this.keys.deadLetters(botId))) / 2);
  }

  async retry(botId: string, updateId: number, maxAttempts: number): Promise<boolean> {
    const { keys } = this;
    return (
      Number(await this.redis.bhRetry(keys.deadLetters(botId), keys.journal(botId), keys.attempts(botId), updateId, maxAttempts - 1)) === 1
    );
  }

  async drop(botId: string, updateId: number | "all"): Promise<number> {
    const key = this.keys.deadLetters(botId);
    if (updateId === "all") {
      const n = await this.count(botId);
      await this.redis.del(key);
      return n;
    }
    return (await this.redis.hdel(key, String(updateId), `u:${updateId}`)) > 0 ? 1 : 0;
  }
}
