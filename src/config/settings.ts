import type { BotConfig, Config, Mode, RedisTarget, UpdateType } from "./load.js";
import { DEFAULT_KEY_PREFIX } from "./schema.js";
import { redactUrl } from "./token.js";
import { webhookSecretFor } from "./webhook-secret.js";
/** Sockets of the shared Bot API pool beyond one per polling bot, when `http.max_sockets` is 0 (auto). */
const SPARE_SOCKETS = 64;

/** Telegram's outgoing limits for one bot, as the throttle takes them. */
export interface OutgoingLimits {
  readonly perBotPerSecond: number;
  readonly perChatPerSecond: number;
  readonly perGroupPerMinute: number;
}

/**
 * Everything one bot runs with, resolved once from bots.yaml: the bot's own values, the file's defaults for
 * what it leaves out, and what is derived (its webhook URL and secret). Durations are in ms. The runtime takes
 * these as they are.
 */
export interface BotSettings {
  readonly id: string;
  readonly token: string;
  readonly enabled: boolean;
  readonly mode: Mode;
  readonly allowedUpdates: readonly UpdateType[] | undefined;
  /** The Bot API server (grammY's `apiRoot`). */
  readonly apiRoot: string;
  /** Handed to the app as `ctx.appConfig`. */
  readonly appConfig: Readonly<Record<string, unknown>>;
  /** getUpdates batch size and long-poll time; updates in flight for this bot. */
  readonly polling: { readonly limit: number; readonly timeoutMs: number; readonly concurrency: number };
  readonly webhook: {
    /** Where `setWebhook` points, or undefined when no `webhook.public_url` is set (the webhook is managed elsewhere). */
    readonly url: string | undefined;
    /** The secret Telegram must send with each request. */
    readonly secret: string;
    readonly maxConnections: number;
  };
  /** Broadcasts: whether the bot's audience is recorded, a campaign's pace, and whether it is a paid broadcast. */
  readonly broadcast: { readonly audience: boolean; readonly perSecond: number; readonly paid: boolean };
  readonly limits: {
    readonly retry: { readonly maxAttempts: number; readonly maxDelayMs: number };
    /** Telegram's outgoing limits, or undefined to send unthrottled. */
    readonly outgoing: OutgoingLimits | undefined;
    /** The per-user flood limit on incoming updates, or undefined when off. */
    readonly incoming: { readonly perUser: number; readonly windowMs: number } | undefined;
  };
}

/** How to reach Redis and what to keep there. */
export interface RedisSettings {
  readonly target: RedisTarget;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
  /** How Redis is named in messages and logs: the URL with any password hidden, or the cluster's or sentinels' addresses. */
  readonly displayUrl: string;
  /** Replicas that must acknowledge each journal write (`WAIT`) before it counts as done; 0: none. */
  readonly minReplicas: number;
  /** Expiry of sessions and plugin state (ms); 0 keeps them forever. */
  readonly stateTtlMs: number;
}

/**
 * bots.yaml resolved once, at the boundary: camelCase, every default filled in, every duration in ms, per-bot
 * settings derived. Frozen. The layers below the host take these, never the file's raw sections.
 */
export interface HostSettings {
  /** The validated file these were resolved from: only a reload reads it, to tell what changed. */
  readonly source: Config;
  /** Absolute path of the app module. */
  readonly app: string;
  /** Prefix of every Redis key (and of the in-memory store's keys, so they read the same). */
  readonly keyPrefix: string;
  /** Undefined without Redis: state lives in this process. */
  readonly redis: RedisSettings | undefined;
  /** `instance`: the name a restart of this process keeps (`leases.instance`), undefined for the host name. */
  readonly leases: { readonly enabled: boolean; readonly ttlMs: number; readonly balance: boolean; readonly instance: string | undefined };
  /** Updates in flight across all bots. */
  readonly globalConcurrency: number;
  /**
   * An update started `maxAttempts` times without finishing is set aside (dead-lettered); a handler still
   * running after `handlerTimeoutMs` is set aside too (0: no timeout).
   */
  readonly updates: { readonly maxAttempts: number; readonly handlerTimeoutMs: number };
  readonly shutdown: { readonly drainTimeoutMs: number };
  readonly http: {
    /** `host:port`, or false for no HTTP server. */
    readonly listen: string | false;
    /** Sockets of the shared Bot API pool (auto already resolved). */
    readonly maxSockets: number;
    readonly advertiseUrl: string | undefined;
  };
  /** Path of the webhook routes: `<pathPrefix>/<botId>`. */
  readonly webhookPathPrefix: string;
  /** Every bot of the file, disabled ones included (`enabled`). */
  readonly bots: readonly BotSettings[];
}

/** Resolves a validated bots.yaml into {@link HostSettings}. */
export function resolveSettings(config: Config): HostSettings {
  const { redis, limits, polling } = config;
  const pollingBots = config.bots.filter((b) => b.enabled && b.mode === "polling").length;
  return deepFreeze({
    source: config,
    app: config.app,
    keyPrefix: redis?.key_prefix ?? DEFAULT_KEY_PREFIX,
    redis:
      redis === undefined
        ? undefined
        : {
            target: redis.target,
            username: redis.username,
            password: redis.password,
            tls: redis.tls,
            displayUrl: redactUrl(redis.url),
            minReplicas: redis.min_replicas,
            stateTtlMs: redis.session_ttl * 1000,
          },
    leases: {
      enabled: config.leases.enabled,
      ttlMs: config.leases.ttl * 1000,
      balance: config.leases.balance,
      instance: config.leases.instance,
    },
    globalConcurrency: polling.global_concurrency,
    updates: { maxAttempts: config.updates.max_attempts, handlerTimeoutMs: config.updates.handler_timeout * 1000 },
    shutdown: { drainTimeoutMs: config.shutdown.drain_timeout * 1000 },
    http: {
      listen: config.http.listen,
      maxSockets: config.http.max_sockets > 0 ? config.http.max_sockets : pollingBots + SPARE_SOCKETS,
      advertiseUrl: config.http.advertise_url,
    },
    webhookPathPrefix: config.webhook.path_prefix,
    bots: config.bots.map((bot) => resolveBot(config, bot)),
  });
}

/**
 * One bot's settings: its own values where it sets them (`bots[].api_root`, `polling`, `limits.outgoing`,
 * `limits.incoming`, `broadcast`: field by field over the top-level section; `app_config`: merged, see {@link mergeAppConfig}),
 * the top-level ones elsewhere.
 */
function resolveBot(config: Config, bot: BotConfig): BotSettings {
  const { public_url: publicUrl, path_prefix: pathPrefix } = config.webhook;
  const { retry } = config.limits;
  const polling = { ...config.polling, ...bot.polling };
  const outgoing = { ...config.limits.outgoing, ...bot.limits?.outgoing };
  const incoming = { ...config.limits.incoming, ...bot.limits?.incoming };
  const broadcast = { ...config.broadcast, ...bot.broadcast };
  return {
    id: bot.id,
    token: bot.token,
    enabled: bot.enabled,
    mode: bot.mode,
    allowedUpdates: bot.allowed_updates,
    apiRoot: bot.api_root ?? config.api_root,
    appConfig: bot.app_config === undefined ? config.app_config : mergeAppConfig(config.app_config, bot.app_config),
    polling: { limit: polling.limit, timeoutMs: polling.timeout * 1000, concurrency: polling.concurrency },
    webhook: {
      url: publicUrl === undefined ? undefined : `${publicUrl}${pathPrefix}/${bot.id}`,
      secret: webhookSecretFor(bot, config.webhook.secret),
      maxConnections: config.webhook.max_connections,
    },
    broadcast: { audience: broadcast.audience, perSecond: broadcast.rate, paid: broadcast.paid },
    limits: {
      retry: { maxAttempts: retry.max_attempts, maxDelayMs: retry.max_delay * 1000 },
      outgoing: outgoing.enabled
        ? { perBotPerSecond: outgoing.per_bot, perChatPerSecond: outgoing.per_chat, perGroupPerMinute: outgoing.per_group }
        : undefined,
      incoming: incoming.enabled ? { perUser: incoming.per_user, windowMs: incoming.window * 1000 } : undefined,
    },
  };
}

/**
 * A bot's `app_config` over the top-level one: mappings are merged key by key, at every depth; anything else (a
 * list, a string, a number, `null`) in the bot's replaces the top-level value whole.
 */
export function mergeAppConfig(base: Readonly<Record<string, unknown>>, own: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(own)) {
    const under = merged[key];
    merged[key] = isMapping(value) && isMapping(under) ? mergeAppConfig(under, value) : value;
  }
  return merged;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The settings of the enabled bots. */
export function enabledBots(settings: HostSettings): BotSettings[] {
  return settings.bots.filter((b) => b.enabled);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
