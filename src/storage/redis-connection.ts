import type { Redis } from "ioredis";
import { BotHostError, ErrorCodes } from "../errors.js";
import type { RedisSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import { createRedisClient, duplicateClient } from "./redis-client.js";
import { RedisHealthMonitor } from "./redis-health.js";
import { logConnectionEvents } from "./redis-events.js";
import type { StoreHealth } from "./state-store.js";

/**
 * What a dedicated connection is for: `flood` (the incoming flood limit's counters), `throttle` (each bot's
 * send window shared by processes), `leases` (the bot leases), `events` (the one subscription: lease events and
 * operators' dead-letter commands).
 */
export type ConnectionPurpose = "flood" | "throttle" | "leases" | "events";

/** Options of {@link RedisConnection}. */
export interface RedisConnectionOptions {
  settings: RedisSettings;
  logger: Logger;
  /** How long `start()` waits for the first connection, in ms (default 5000). */
  connectTimeoutMs?: number;
  /** A health PING unanswered this long marks Redis as hung (ms, default 2000). */
  pingTimeoutMs?: number;
  /** Connections are named `<clientName>/<purpose>` (the main one's purpose is `state`); default `bot-host`. */
  clientName?: string;
}

const QUIT_TIMEOUT_MS = 2_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const LEASE_COMMAND_TIMEOUT_MS = 2_000;

/**
 * The one owner of Redis clients: the main client the stores share (auto-pipelined, so the commits of every
 * update finishing in one tick leave in one socket write), the dedicated connections made on first use, the
 * health monitor, and the close order (dedicated connections first, then the main one, each bounded). While
 * Redis is unreachable, commands wait in ioredis' offline queue and run after the reconnect, so no finished
 * update is forgotten; the loss and the recovery are each logged once.
 */
export class RedisConnection {
  /** The client every store shares. */
  readonly client: Redis;
  private readonly log: Logger;
  private readonly monitor: RedisHealthMonitor;
  private readonly dedicatedClients = new Map<ConnectionPurpose, Redis>();
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: RedisConnectionOptions) {
    this.log = o.logger.child({ component: "redis" });
    const { settings } = o;
    this.client = createRedisClient(settings, {
      connectionName: `${this.clientName}/state`,
      lazyConnect: true,
      enableAutoPipelining: true,
      maxRetriesPerRequest: null,
      retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5_000),
    });
    this.monitor = new RedisHealthMonitor({
      redis: this.client,
      logger: this.log,
      ...(o.pingTimeoutMs === undefined ? {} : { timeoutMs: o.pingTimeoutMs }),
    });
    const sentinel = settings.target.kind === "sentinel";
    logConnectionEvents(this.client, { log: this.log, url: settings.displayUrl, sentinel, stopping: () => this.stopping !== undefined });
  }

  private get clientName(): string {
    return this.o.clientName ?? "bot-host";
  }

  /** How Redis is named in messages (no password). */
  get displayUrl(): string {
    return this.o.settings.displayUrl;
  }

  /** Whether Redis takes writes now: connected and answering its health PING in time. */
  health(): StoreHealth {
    return this.monitor.health;
  }

  /**
   * A connection of its own for `purpose`, so its traffic never waits behind journal writes (and a lease
   * command that cannot be answered soon fails instead of waiting for a reconnect). Created on first use;
   * closed by {@link stop} before the main client.
   */
  dedicated(purpose: ConnectionPurpose): Redis {
    let c = this.dedicatedClients.get(purpose);
    if (c === undefined) {
      const timeout = purpose === "leases" ? { commandTimeout: LEASE_COMMAND_TIMEOUT_MS } : {};
      c = duplicateClient(this.client, { connectionName: `${this.clientName}/${purpose}`, ...timeout });
      c.on("error", () => undefined); // the main connection logs the outage once
      this.dedicatedClients.set(purpose, c);
    }
    return c;
  }

  /** Connects (bounded by the connect timeout), starts the health monitor and checks the eviction policy. */
  async start(): Promise<void> {
    const timeoutMs = this.o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (cause) {
      this.client.disconnect();
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new BotHostError(
        ErrorCodes.REDIS_UNREACHABLE,
        `cannot connect to Redis at ${this.displayUrl} (${reason}); check the redis section of the config and that Redis is running`,
        { cause },
      );
    } finally {
      clearTimeout(timer);
    }
    this.monitor.start();
    await this.checkEviction();
  }

  /**
   * The journal is only exactly-once if Redis never evicts a key: an evicted journal entry is an update lost
   * after its offset was confirmed. Read from INFO (CONFIG is often disabled on managed Redis).
   */
  private async checkEviction(): Promise<void> {
    let policy: string | undefined;
    try {
      policy = /^maxmemory_policy:(\S+)/m.exec(await this.client.info("memory"))?.[1];
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

  /** Closes every connection, dedicated ones first; called after the last writer finished. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async close(): Promise<void> {
    this.monitor.stop();
    // Each close is bounded: a hung Redis must not hang the stop.
    const dedicated = await Promise.all([...this.dedicatedClients.values()].map((c) => quitWithin(c, QUIT_TIMEOUT_MS)));
    const failed = [...dedicated, await quitWithin(this.client, QUIT_TIMEOUT_MS)].find((reason) => reason !== undefined);
    if (failed === undefined) return;
    throw new BotHostError(
      ErrorCodes.REDIS_CLOSE_FAILED,
      `Redis at ${this.displayUrl} did not close cleanly (${failed}); the connection was dropped. Writes that were acknowledged are kept; check that Redis is healthy`,
    );
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
