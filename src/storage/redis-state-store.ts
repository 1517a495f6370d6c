import type { Redis } from "ioredis";
import { createRedisClient, duplicateClient, type RedisConnectionSettings } from "./redis-client.js";
import type { Update } from "grammy/types";
import { BotHostError, ErrorCodes, isBotHostError } from "../errors.js";
import { redactUrl } from "../config/token.js";
import type { Logger } from "../logging/logger.js";
import { createKeys, type KeyBuilder } from "./keys.js";
import type { CachedBotInfo, JournalState, StateWrite, StateStore, StoreHealth } from "./state-store.js";
import { REMEMBERED_UPDATES } from "./memory-state-store.js";
import { RedisHealthMonitor } from "./redis-health.js";
import { logConnectionEvents } from "./redis-events.js";
import { botsWithLegacyKeys } from "./legacy-keys.js";
import { SCRIPTS, type ScriptArg, type ScriptedRedis } from "./journal-scripts.js";
import { REPLICA_WAIT_MS, writeWithWait } from "./replicated.js";

/** Options of {@link RedisStateStore}. */
export interface RedisStateStoreOptions {
  /** The server, cluster or Sentinel master, with auth and TLS; default: the server at `url`. */
  connection?: RedisConnectionSettings;
  /** The server's URL, or how a cluster or Sentinel is named in messages (printed with any password hidden). */
  url: string;
  keyPrefix: string;
  /** TTL of sessions and plugin state in seconds; 0 keeps them forever. */
  sessionTtl: number;
  logger: Logger;
  /** How long `start()` waits for the first connection, in ms. */
  connectTimeoutMs?: number;
  /** A health PING unanswered this long marks Redis as hung (ms, default 2000). */
  pingTimeoutMs?: number;
  /** Replicas that must acknowledge each journal write (`WAIT`) before it counts as done; 0: none. */
  minReplicas?: number;
}

const QUIT_TIMEOUT_MS = 2_000;
const LEASE_COMMAND_TIMEOUT_MS = 2_000;
/** How often a commit not acknowledged by enough replicas is sent again (about a minute in all). */
const COMMIT_ATTEMPTS = 40;

// Telegram picks a random update_id after a week without updates; a stale cursor must not outlive that.
const WATERMARK_TTL_SECONDS = 6 * 24 * 3600;

/**
 * State in Redis: sessions, plugin state, the update journal and the botInfo cache, all under one key prefix.
 * While Redis is unreachable, commands wait in ioredis' offline queue and run after the reconnect, so no
 * finished update is forgotten; the loss and the recovery are each logged once.
 */
export class RedisStateStore implements StateStore {
  readonly durable = true;
  readonly name = "redis";
  readonly keys: KeyBuilder;
  private readonly redis: ScriptedRedis;
  private readonly log: Logger;
  private stopping: Promise<void> | undefined;
  private readonly monitor: RedisHealthMonitor;
  private readonly extra = new Map<string, Redis>();

  constructor(private readonly options: RedisStateStoreOptions) {
    this.keys = createKeys(options.keyPrefix);
    this.log = options.logger.child({ component: "redis" });
    const connection = options.connection ?? { target: { kind: "server", url: options.url }, username: undefined, password: undefined, tls: false };
    this.redis = createRedisClient(connection, {
      lazyConnect: true,
      enableAutoPipelining: true,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5_000),
    }) as ScriptedRedis;
    // A script without a fixed key count takes the count as its first argument.
    for (const [name, script] of Object.entries(SCRIPTS)) {
      this.redis.defineCommand(name, "keys" in script ? { numberOfKeys: script.keys, lua: script.lua } : { lua: script.lua });
    }
    this.monitor = new RedisHealthMonitor({ redis: this.redis, logger: this.log, ...(options.pingTimeoutMs === undefined ? {} : { timeoutMs: options.pingTimeoutMs }) });
    const sentinel = connection.target.kind === "sentinel";
    logConnectionEvents(this.redis, { log: this.log, url: options.url, sentinel, stopping: () => this.stopping !== undefined });
  }

  /**
   * A connection of its own for `purpose`, so counter traffic never waits behind journal writes. Created on
   * first use; the store closes it before its own connection.
   */
  connection(purpose: "flood" | "throttle" | "leases" | "lease-events"): Redis {
    let c = this.extra.get(purpose);
    if (c === undefined) {
      // A lease command that cannot be answered soon is worthless: it fails instead of waiting for a reconnect.
      const timeout = purpose === "leases" ? { commandTimeout: LEASE_COMMAND_TIMEOUT_MS } : {};
      c = duplicateClient(this.redis, { connectionName: `bot-host:${purpose}`, ...timeout });
      c.on("error", () => undefined); // the main connection logs the outage once
      this.extra.set(purpose, c);
    }
    return c;
  }

  /** The live connection state. */
  get status(): string {
    return this.redis.status;
  }

  /** Whether Redis takes writes now: connected and answering its health PING in time. */
  health(): StoreHealth {
    return this.monitor.health;
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
        `cannot connect to Redis at ${redactUrl(this.options.url)} (${reason}); check the redis section of the config and that Redis is running`,
        { cause },
      );
    } finally {
      clearTimeout(timer);
    }
    this.monitor.start();
    await this.checkEviction();
  }

  /**
   * Refuses to run `botIds` while Redis still holds their journal or cursor under the old, untagged key names:
   * starting would lose the cursor and the unfinished updates (the new names would start empty).
   */
  async checkKeyLayout(botIds: readonly string[]): Promise<void> {
    const legacy = await botsWithLegacyKeys(this.redis, this.options.keyPrefix, botIds);
    if (legacy.length === 0) return;
    throw new BotHostError(
      ErrorCodes.LEGACY_KEYS,
      `Redis holds state of bot(s) ${legacy.join(", ")} under the key names of an earlier bot-host version; stop every instance, ` +
        "run `bot-host migrate-keys --config <your bots.yaml>` once, then start again",
    );
  }

  /**
   * The journal is only exactly-once if Redis never evicts a key: an evicted journal entry is an update lost
   * after its offset was confirmed. Read from INFO (CONFIG is often disabled on managed Redis).
   */
  private async checkEviction(): Promise<void> {
    let policy: string | undefined;
    try {
      policy = /^maxmemory_policy:(\S+)/m.exec(await this.redis.info("memory"))?.[1];
    } catch (err) {
      this.log.warn({ err }, "could not read Redis' maxmemory-policy (INFO memory); make sure it is noeviction");
      return;
    }
    if (policy === undefined || policy === "noeviction") return;
    this.log.warn(
      { maxmemory_policy: policy },
      `Redis evicts keys (maxmemory-policy ${policy}): journal entries and sessions can be evicted, so updates can be lost ` +
        "after Telegram was told they were received. Set maxmemory-policy noeviction (redis.conf or CONFIG SET maxmemory-policy noeviction), " +
        "or use a Redis instance of its own for bot-host",
    );
  }

  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async close(): Promise<void> {
    this.monitor.stop();
    // The counter connections first, then the state's own, each bounded: a hung Redis must not hang the stop.
    const extras = await Promise.all([...this.extra.values()].map((c) => quitWithin(c, QUIT_TIMEOUT_MS)));
    const failed = [...extras, await quitWithin(this.redis, QUIT_TIMEOUT_MS)].find((reason) => reason !== undefined);
    if (failed === undefined) return;
    throw new BotHostError(
      ErrorCodes.REDIS_CLOSE_FAILED,
      `Redis at ${redactUrl(this.options.url)} did not close cleanly (${failed}); the connection was dropped. Writes that were acknowledged are kept; check that Redis is healthy`,
    );
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

  async read(key: string): Promise<string | undefined> {
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

  /**
   * Runs one script; with `minReplicas`, in a pipeline with `WAIT minReplicas` on the same node (the bot's slot
   * on a cluster), and resolves with the number of replicas that acknowledged it as well.
   */
  private async write(name: keyof typeof SCRIPTS, args: ScriptArg[]): Promise<{ result: number; acked: number | undefined }> {
    const min = this.options.minReplicas ?? 0;
    if (min === 0) return { result: await this.redis[name](...args), acked: undefined };
    const { result, acked } = await writeWithWait(this.redis, name, args, min);
    return { result: Number(result), acked };
  }

  private notReplicated(botId: string, what: string, acked: number): BotHostError {
    return new BotHostError(
      ErrorCodes.NOT_REPLICATED,
      `bot "${botId}": ${what} was acknowledged by ${acked} of the ${this.options.minReplicas} replicas redis.min_replicas asks for within ${REPLICA_WAIT_MS} ms; nothing it covers is confirmed, it is written again`,
    );
  }

  async appendJournal(botId: string, updates: readonly Update[], fence?: string): Promise<void> {
    const last = updates[updates.length - 1];
    if (last === undefined) return;
    const args: ScriptArg[] = [
      this.keys.journal(botId), this.keys.watermark(botId), this.keys.lease(botId),
      WATERMARK_TTL_SECONDS, last.update_id, fence ?? "",
    ];
    for (const u of updates) args.push(u.update_id, JSON.stringify(u));
    const { acked } = await this.fenced(botId, this.write("bhAppend", args));
    if (acked !== undefined && acked < (this.options.minReplicas ?? 0)) throw this.notReplicated(botId, "a journal write", acked);
  }

  async claim(botId: string, update: Update, fence?: string): Promise<boolean> {
    const args = [this.keys.done(botId), this.keys.journal(botId), this.keys.lease(botId), update.update_id, JSON.stringify(update), fence ?? ""];
    const { result, acked } = await this.fenced(botId, this.write("bhClaim", args));
    if (acked !== undefined && acked < (this.options.minReplicas ?? 0)) throw this.notReplicated(botId, "a webhook update's journal entry", acked);
    return result === 1;
  }

  async complete(botId: string, updateId: number, writes: readonly StateWrite[], remember = false, fence?: string): Promise<void> {
    const keys = [this.keys.journal(botId), this.keys.done(botId), this.keys.lease(botId), ...writes.map((w) => w.key)];
    const values = writes.map((w) => w.value ?? "");
    const args = [updateId, this.options.sessionTtl, remember ? 1 : 0, REMEMBERED_UPDATES, fence ?? "", ...values];
    const min = this.options.minReplicas ?? 0;
    // A commit sets values and deletes the journal entry: sending it again changes nothing. So with
    // `minReplicas`, one that the replicas have not acknowledged (a master failing over drops it), or that a
    // failover cut off, is sent again until they have, on whichever master the client is connected to by then.
    for (let attempt = 1; ; attempt++) {
      let acked: number | undefined;
      try {
        ({ acked } = await this.fenced(botId, this.write("bhComplete", [keys.length, ...keys, ...args])));
      } catch (err) {
        if (min === 0 || isBotHostError(err) || attempt >= COMMIT_ATTEMPTS) throw err;
        if (attempt === 1) this.log.warn({ err, bot: botId, update_id: updateId }, "a commit failed (a failover?); sending it again");
        await new Promise((r) => setTimeout(r, Math.min(200 * attempt, 2_000)));
        continue;
      }
      if (acked === undefined || acked >= min) return;
      if (attempt >= COMMIT_ATTEMPTS) {
        this.log.error({ bot: botId, update_id: updateId, acked, min_replicas: min }, "a commit was still not acknowledged by redis.min_replicas replicas; a failover now would handle this update again");
        return;
      }
      if (attempt === 1) this.log.warn({ bot: botId, update_id: updateId, acked, min_replicas: min }, "a commit was not acknowledged by redis.min_replicas replicas in time; sending it again");
      await new Promise((r) => setTimeout(r, Math.min(200 * attempt, 2_000)));
    }
  }

  async getBotInfo(telegramBotId: string): Promise<CachedBotInfo | undefined> {
    const raw = await this.redis.get(this.keys.botInfo(telegramBotId));
    return raw === null ? undefined : (JSON.parse(raw) as CachedBotInfo);
  }

  async setBotInfo(telegramBotId: string, value: CachedBotInfo): Promise<void> {
    await this.redis.set(this.keys.botInfo(telegramBotId), JSON.stringify(value));
  }
}

/**
 * Closes `redis` with QUIT, or drops it when it is not connected (nothing to flush) or QUIT is not answered
 * within `ms`. Returns why the close was not clean, or undefined.
 */
async function quitWithin(redis: Redis, ms: number): Promise<string | undefined> {
  if (redis.status === "end") return undefined;
  if (redis.status !== "ready") {
    redis.disconnect();
    return undefined;
  }
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    redis.quit().then(
      () => undefined,
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    ),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`no answer to QUIT within ${ms} ms`), ms);
    }),
  ]);
  clearTimeout(timer);
  if (outcome !== undefined) redis.disconnect();
  return outcome;
}
