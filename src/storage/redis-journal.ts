import type { Update } from "grammy/types";
import type { Redis } from "ioredis";
import { BotHostError, ErrorCodes, isBotHostError } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import { deadLetterOf, UNKNOWN_ERROR, type DeadLetter, type DeadLetterReason, type DeadLetterRecord } from "./dead-letters.js";
import type { BeginOptions, Begun, CompleteOptions, Journal, JournalState, StateWrite } from "./journal.js";
import { defineScripts, SCRIPTS, type ScriptArg, type ScriptedRedis } from "./journal-scripts.js";
import type { KeyBuilder } from "./keys.js";
import { REMEMBERED_UPDATES } from "./memory-storage.js";
import { REPLICA_WAIT_MS, writeWithWait } from "./replicated.js";

/** Options of {@link RedisJournal}. */
export interface RedisJournalOptions {
  /** The shared client (owned by the `RedisConnection`). */
  redis: Redis;
  keys: KeyBuilder;
  /** Expiry of the state an update commits (ms); 0 keeps it forever. */
  stateTtlMs: number;
  /** Replicas that must acknowledge each journal write (`WAIT`) before it counts as done; 0: none. */
  minReplicas: number;
  logger: Logger;
}

/** How often a commit not acknowledged by enough replicas is sent again (about a minute in all). */
const COMMIT_ATTEMPTS = 40;

// Telegram picks a random update_id after a week without updates; a stale cursor must not outlive that.
const WATERMARK_TTL_SECONDS = 6 * 24 * 3600;

/**
 * The update journal in Redis: per bot, a hash of unfinished updates (`journal:{bot}`), the cursor
 * (`offset:{bot}`) and the recently finished webhook updates (`done:{bot}`). Every write is one Lua script on
 * the bot's slot (see `journal-scripts.ts`), checked against the bot's lease when it carries a fence token.
 */
export class RedisJournal implements Journal {
  readonly durable = true;
  private readonly redis: ScriptedRedis;
  private readonly keys: KeyBuilder;
  private readonly log: Logger;

  constructor(private readonly o: RedisJournalOptions) {
    this.redis = defineScripts(o.redis);
    this.keys = o.keys;
    this.log = o.logger.child({ component: "journal" });
  }

  /**
   * Not while the connection is down: a begin would then wait for Redis with its update already in flight (a stop
   * would wait for it), where a separate append waits before anything is handed out.
   */
  get recordsOnBegin(): boolean {
    return this.o.minReplicas === 0 && this.o.redis.status === "ready";
  }

  async load(botId: string): Promise<JournalState> {
    const [entries, mark] = await Promise.all([this.redis.hvals(this.keys.journal(botId)), this.redis.get(this.keys.watermark(botId))]);
    const pending = entries.map((e) => JSON.parse(e) as Update).sort((a, b) => a.update_id - b.update_id);
    return { pending, watermark: mark === null ? undefined : Number(mark) };
  }

  async append(botId: string, updates: readonly Update[], fence?: string): Promise<void> {
    const last = updates[updates.length - 1];
    if (last === undefined) return;
    const { keys } = this;
    const args: ScriptArg[] = [
      keys.journal(botId),
      keys.watermark(botId),
      keys.lease(botId),
      keys.fence(botId),
      WATERMARK_TTL_SECONDS,
      last.update_id,
      fence ?? "",
    ];
    for (const u of updates) args.push(u.update_id, JSON.stringify(u));
    const { acked } = await this.fenced(botId, this.write("bhAppend", args));
    if (acked !== undefined && acked < this.o.minReplicas) throw this.notReplicated(botId, "a journal write", acked);
  }

  async claim(botId: string, update: Update, fence?: string): Promise<boolean> {
    const { keys } = this;
    const args = [
      keys.done(botId),
      keys.journal(botId),
      keys.lease(botId),
      keys.fence(botId),
      update.update_id,
      JSON.stringify(update),
      fence ?? "",
    ];
    const { result, acked } = await this.fenced(botId, this.write("bhClaim", args));
    if (acked !== undefined && acked < this.o.minReplicas) throw this.notReplicated(botId, "a webhook update's journal entry", acked);
    return result === 1;
  }

  async complete(botId: string, updateId: number, writes: readonly StateWrite[], options: CompleteOptions = {}): Promise<void> {
    const { keys } = this;
    const scriptKeys = [
      keys.journal(botId),
      keys.done(botId),
      keys.lease(botId),
      keys.fence(botId),
      keys.attempts(botId),
      ...writes.map((w) => w.key),
    ];
    const values = writes.map((w) => w.value ?? "");
    const remember = options.remember === true ? 1 : 0;
    const args = [
      scriptKeys.length,
      ...scriptKeys,
      updateId,
      this.o.stateTtlMs,
      remember,
      REMEMBERED_UPDATES,
      options.fence ?? "",
      ...values,
    ];
    const min = this.o.minReplicas;
    // A commit sets values and deletes the journal entry: sending it again changes nothing. So with
    // `minReplicas`, one that the replicas have not acknowledged (a master failing over drops it), or that a
    // failover cut off, is sent again until they have, on whichever master the client is connected to by then.
    for (let attempt = 1; ; attempt++) {
      let acked: number | undefined;
      try {
        ({ acked } = await this.fenced(botId, this.write("bhComplete", args)));
      } catch (err) {
        if (min === 0 || isBotHostError(err) || attempt >= COMMIT_ATTEMPTS) throw err;
        if (attempt === 1) this.log.warn({ err, bot: botId, update_id: updateId }, "a commit failed (a failover?); sending it again");
        await pause(attempt);
        continue;
      }
      if (acked === undefined || acked >= min) return;
      if (attempt >= COMMIT_ATTEMPTS) {
        this.log.error(
          { bot: botId, update_id: updateId, acked, min_replicas: min },
          "a commit was still not acknowledged by redis.min_replicas replicas; a failover now would handle this update again",
        );
        return;
      }
      if (attempt === 1)
        this.log.warn(
          { bot: botId, update_id: updateId, acked, min_replicas: min },
          "a commit was not acknowledged by redis.min_replicas replicas in time; sending it again",
        );
      await pause(attempt);
    }
  }

  async begin(botId: string, updateId: number, o: BeginOptions): Promise<Begun> {
    const { keys } = this;
    const scriptKeys = [
      keys.journal(botId),
      keys.attempts(botId),
      keys.deadLetters(botId),
      keys.lease(botId),
      keys.fence(botId),
      keys.audience(botId),
    ];
    const { record } = o;
    if (record !== undefined) scriptKeys.push(record.as === "append" ? keys.watermark(botId) : keys.done(botId));
    if (o.read !== undefined) scriptKeys.push(o.read);
    const args: ScriptArg[] = [
      scriptKeys.length,
      ...scriptKeys,
      updateId,
      o.maxAttempts,
      o.fence ?? "",
      Date.now(),
      UNKNOWN_ERROR,
      o.audience ?? "",
    ];
    if (record !== undefined) args.push(record.as === "append" ? "a" : "c", JSON.stringify(record.update), WATERMARK_TTL_SECONDS);
    const [run, a, b, joined] = (await this.fenced(botId, this.redis.bhBegin(...args))) as [
      number,
      (number | string)?,
      (string | null)?,
      number?,
    ];
    if (run === 1) return { run: true, attempt: Number(a), value: b ?? undefined, joined: joined === 1 };
    if (run === 2) return { run: false, duplicate: true };
    return { run: false, letter: parseLetter(botId, String(a), b ?? "null") };
  }

  async park(botId: string, updateId: number, reason: DeadLetterReason, error: string, fence?: string): Promise<DeadLetter | undefined> {
    const { keys } = this;
    const args = [
      keys.journal(botId),
      keys.attempts(botId),
      keys.deadLetters(botId),
      keys.lease(botId),
      keys.fence(botId),
      updateId,
      reason,
      error,
      Date.now(),
      fence ?? "",
    ];
    const parked = (await this.fenced(botId, this.redis.bhPark(...args))) as [string, string] | null;
    return parked === null ? undefined : parseLetter(botId, parked[0], parked[1]);
  }

  async noteError(botId: string, updateIds: readonly number[], error: string): Promise<void> {
    if (updateIds.length === 0) return;
    await this.redis.hset(this.keys.attempts(botId), Object.fromEntries(updateIds.map((id) => [`e:${id}`, error])));
  }

  async entry(botId: string, updateId: number): Promise<Update | undefined> {
    const raw = await this.redis.hget(this.keys.journal(botId), String(updateId));
    return raw === null ? undefined : (JSON.parse(raw) as Update);
  }

  /**
   * Runs one script; with `minReplicas`, in a pipeline with `WAIT minReplicas` on the same node (the bot's slot
   * on a cluster), and resolves with the number of replicas that acknowledged it as well.
   */
  private async write(name: keyof typeof SCRIPTS, args: ScriptArg[]): Promise<{ result: number; acked: number | undefined }> {
    const min = this.o.minReplicas;
    if (min === 0) return { result: Number(await this.redis[name](...args)), acked: undefined };
    const { result, acked } = await writeWithWait(this.redis, name, args, min);
    return { result: Number(result), acked };
  }

  private fenced<T>(botId: string, write: Promise<T>): Promise<T> {
    return write.catch((err: unknown) => {
      if (err instanceof Error && err.message.startsWith("BOTHOST_FENCED")) {
        throw new BotHostError(
          ErrorCodes.LEASE_LOST,
          `bot "${botId}": this instance no longer holds the bot's lease (another instance took it over, or the lease expired); the write was refused and the update is left to the owner`,
          { cause: err },
        );
      }
      throw err;
    });
  }

  private notReplicated(botId: string, what: string, acked: number): BotHostError {
    return new BotHostError(
      ErrorCodes.NOT_REPLICATED,
      `bot "${botId}": ${what} was acknowledged by ${acked} of the ${this.o.minReplicas} replicas redis.min_replicas asks for within ${REPLICA_WAIT_MS} ms; nothing it covers is confirmed, it is written again`,
    );
  }
}

function pause(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.min(200 * attempt, 2_000)));
}

function parseLetter(botId: string, record: string, update: string): DeadLetter {
  return deadLetterOf(botId, JSON.parse(update) as Update, JSON.parse(record) as DeadLetterRecord);
}
