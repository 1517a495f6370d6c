import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { safeParse } from "valibot";
import { LineCounter, parseDocument } from "yaml";
import { BotHostError, ErrorCodes } from "../errors.js";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { describeIssue, isUnknownKey, type Found } from "./messages.js";
import { formatPath, locate, positionOf, valueAt, type FieldPosition, type Path, type Position } from "./positions.js";
import { configSchema, ID_PATTERN, scalarKindsAt, type RawConfig, type UPDATE_TYPES } from "./schema.js";
import { TOKEN_PATTERN } from "./token.js";

/** How a bot receives updates. */
export type Mode = "polling" | "webhook";
/** A Telegram update type name, as listed in `allowed_updates`. */
export type UpdateType = (typeof UPDATE_TYPES)[number];

/** Where the state lives: one server (`redis.url`), a Redis Cluster (`redis.cluster`), or a master behind Sentinel. */
export type RedisTarget =
  | { readonly kind: "server"; readonly url: string }
  | { readonly kind: "cluster"; readonly nodes: readonly string[] }
  | { readonly kind: "sentinel"; readonly sentinels: readonly string[]; readonly name: string };

/** A validated, deep-frozen bots.yaml: keys as in the file, every default filled in. */
export interface Config {
  /** Absolute path of the app module (written relative to the config file). */
  readonly app: string;
  readonly app_config: Readonly<Record<string, unknown>>;
  readonly api_root: string;
  readonly mode: Mode;
  /** Undefined when the file names no Redis (no `redis` section, or an empty `url`): state is kept in memory. */
  readonly redis:
    | {
        readonly target: RedisTarget;
        /** For messages: the server's URL (print it with `redactUrl`), or the cluster's or the sentinels' addresses. */
        readonly url: string;
        readonly username: string | undefined;
        readonly password: string | undefined;
        readonly tls: boolean;
        /** Replicas that must acknowledge the journal before an offset is confirmed (`WAIT`); 0: none. */
        readonly min_replicas: number;
        readonly key_prefix: string;
        readonly session_ttl: number;
      }
    | undefined;
  /**
   * Several instances sharing the bots through Redis leases: `enabled` is true whenever Redis is configured
   * (unless the file says `false`); `ttl` in seconds.
   */
  readonly leases: { readonly enabled: boolean; readonly ttl: number; readonly balance: boolean; readonly instance: string | undefined };
  readonly polling: { readonly limit: number; readonly timeout: number; readonly concurrency: number; readonly global_concurrency: number };
  /** What an update the app cannot get past costs: attempts before it is set aside, and the handler timeout (s, 0 = none). */
  readonly updates: { readonly max_attempts: number; readonly handler_timeout: number };
  readonly shutdown: { readonly drain_timeout: number };
  /**
   * `listen` is `false` when no HTTP server should run; `advertise_url` is how other instances reach this one
   * (webhook forwarding), derived from the bound address when absent.
   */
  readonly http: { readonly listen: string | false; readonly max_sockets: number; readonly advertise_url: string | undefined };
  readonly webhook: {
    readonly public_url: string | undefined;
    readonly path_prefix: string;
    readonly secret: string | undefined;
    readonly max_connections: number;
  };
  /** Bot API retries, outgoing throttle (Telegram's limits) and the optional incoming flood limit per user. */
  readonly limits: {
    readonly retry: { readonly max_attempts: number; readonly max_delay: number };
    readonly outgoing: { readonly enabled: boolean; readonly per_bot: number; readonly per_chat: number; readonly per_group: number };
    readonly incoming: { readonly enabled: boolean; readonly per_user: number; readonly window: number };
  };
  /** Broadcasts: record each bot's audience; a campaign's pace (messages per second) and whether it is paid. */
  readonly broadcast: { readonly audience: boolean; readonly rate: number; readonly paid: boolean };
  readonly bots: ReadonlyArray<{
    readonly id: string;
    readonly token: string;
    readonly enabled: boolean;
    /** The bot's own `mode`, or else the top-level one. */
    readonly mode: Mode;
    readonly allowed_updates: readonly UpdateType[] | undefined;
    readonly webhook_secret: string | undefined;
    /** The bot's own settings, each over the top-level one (see `resolveSettings`); undefined where not set. */
    readonly app_config: Readonly<Record<string, unknown>> | undefined;
    readonly api_root: string | undefined;
    readonly polling: { readonly limit?: number; readonly timeout?: number; readonly concurrency?: number } | undefined;
    readonly limits:
      | {
          readonly outgoing?: {
            readonly enabled?: boolean;
            readonly per_bot?: number;
            readonly per_chat?: number;
            readonly per_group?: number;
          };
          readonly incoming?: { readonly enabled?: boolean; readonly per_user?: number; readonly window?: number };
        }
      | undefined;
    readonly broadcast: { readonly audience?: boolean; readonly rate?: number; readonly paid?: boolean } | undefined;
  }>;
}

/** One bot of a validated config. */
export type BotConfig = Config["bots"][number];

/** Where `parseConfig` reads from. */
export interface ParseOptions {
  /** The file name used in messages, as the user gave it. */
  file: string;
  /** Directory that relative paths (`app`) are resolved against. */
  baseDir: string;
  /** Values for `${VAR}` references. */
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * Reads and validates a config file; see {@link parseConfig}. Throws a `BotHostError` with code
 * `CONFIG_UNREADABLE` when the file cannot be read, and a `ConfigError` when it is invalid.
 */
export async function loadConfig(path: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    // Node's message repeats the path ("..., open 'bots.yaml'"), which the sentence already names.
    const reason = (cause instanceof Error ? cause.message : String(cause)).replace(/, \w+(?: '.*')?$/, "");
    throw new BotHostError(ErrorCodes.CONFIG_UNREADABLE, `cannot read config file ${path}: ${reason}`, { cause });
  }
  return parseConfig(text, { file: path, baseDir: dirname(resolve(path)), env });
}

/**
 * Parses, interpolates and validates a config text. Every problem (YAML syntax, unknown keys, unset
 * variables, wrong types and ranges, malformed or duplicate tokens, duplicate ids) is collected and thrown at
 * once as a {@link ConfigError}, in file order. Messages never contain a token or a secret.
 */
export function parseConfig(text: string, o: ParseOptions): Config {
  const lines = new LineCounter();
  // Repeated keys are reported by `locate`, as a field problem, so that the other checks still run.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: false });
  const issue = (at: Position, path: Path | string, message: string): ConfigIssue => ({
    file: o.file,
    line: at.line,
    col: at.col,
    path: typeof path === "string" ? path : formatPath(path),
    message,
  });
  // A broken document has no reliable structure: checking its fields would only add noise.
  if (doc.errors.length > 0)
    throw new ConfigError(
      o.file,
      doc.errors.map((e) => issue(e.linePos?.[0] ?? { line: 1, col: 1 }, "", syntaxMessage(e))),
    );

  const { data, positions, problems } = locate(doc, lines, o.env, coerceInterpolated);
  const issues: ConfigIssue[] = problems.map((p) => {
    if (p.kind === "duplicate-key") return issue(p.at, p.path, `duplicate key (first used at line ${p.firstLine})`);
    if (p.kind === "alias") return issue(positionOf(positions, p.path), p.path, p.message);
    const message =
      p.kind === "unset"
        ? `environment variable ${p.variable} is not set`
        : "malformed variable reference: write ${NAME} or ${NAME:-default}, and $${ for a literal ${";
    return issue(positionOf(positions, p.path), p.path, message);
  });
  // The schema would also reject a half-interpolated value; one message about that value is enough.
  const reported = new Set(problems.filter((p) => p.kind !== "duplicate-key").map((p) => formatPath(p.path)));
  // One message per field, for its first failed check: 0.5 where an integer from 1 is expected "must be an integer"
  // (and not also ">= 1").
  const parsed = safeParse(configSchema, data ?? {}, { abortEarly: false, abortPipeEarly: true });
  if (!parsed.success) {
    for (const vi of parsed.issues) {
      for (const found of describeIssue(vi, data, positions)) {
        if (isUnknownKey(vi) || !reported.has(found.path)) issues.push(issue(found.at, found.path, found.message));
      }
    }
  }
  for (const found of [
    ...duplicates(data, positions),
    ...broadcastRates(data, positions),
    ...webhookWithoutServer(data, positions),
    ...leasesWithoutRedis(data, positions),
    ...redisTargets(data, positions),
  ])
    issues.push(issue(found.at, found.path, found.message));
  if (issues.length > 0 || !parsed.success) {
    issues.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(o.file, issues);
  }
  return deepFreeze(normalize(parsed.output, o.baseDir));
}

function syntaxMessage(e: { code: string; message: string }): string {
  if (e.code === "MULTIPLE_DOCS") return "YAML syntax: the file must hold a single YAML document (remove the second ---)";
  // prettyErrors appends the position and a source excerpt; the issue has its own position, and the excerpt
  // could show a token.
  const first = (e.message.split("\n")[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, "");
  return `YAML syntax: ${first}`;
}

const NUMERIC = /^\s*[-+]?\d+(\.\d+)?\s*$/;

// Numbers and booleans that come from `${VAR}` arrive as strings; literal YAML strings are never coerced.
function coerceInterpolated(path: Path, value: string): unknown {
  const kinds = scalarKindsAt(path);
  if (kinds.number && NUMERIC.test(value)) return Number(value);
  if (kinds.boolean && (value === "true" || value === "false")) return value === "true";
  return value;
}

function normalize(raw: RawConfig, baseDir: string): Config {
  const { redis, webhook, leases } = raw;
  const target = redisTargetOf(redis);
  const withRedis = redis !== undefined && target !== undefined;
  return {
    app: resolve(baseDir, raw.app),
    app_config: raw.app_config,
    api_root: raw.api_root,
    mode: raw.mode,
    redis: withRedis
      ? {
          target,
          url:
            target.kind === "server"
              ? target.url
              : target.kind === "cluster"
                ? `redis-cluster://${target.nodes.join(",")}`
                : `redis-sentinel://${target.sentinels.join(",")}/${target.name}`,
          username: redis.username,
          password: redis.password,
          tls: redis.tls,
          min_replicas: redis.min_replicas,
          key_prefix: redis.key_prefix,
          session_ttl: redis.session_ttl,
        }
      : undefined,
    leases: { enabled: withRedis && leases.enabled !== false, ttl: leases.ttl, balance: leases.balance, instance: leases.instance },
    polling: { ...raw.polling },
    updates: { ...raw.updates },
    shutdown: { ...raw.shutdown },
    http: { listen: raw.http.listen, max_sockets: raw.http.max_sockets, advertise_url: raw.http.advertise_url },
    webhook: {
      public_url: webhook.public_url,
      path_prefix: webhook.path_prefix,
      secret: webhook.secret,
      max_connections: webhook.max_connections,
    },
    broadcast: { ...raw.broadcast },
    limits: { retry: { ...raw.limits.retry }, outgoing: { ...raw.limits.outgoing }, incoming: { ...raw.limits.incoming } },
    bots: raw.bots.map((b) => ({
      id: b.id,
      token: b.token,
      enabled: b.enabled,
      mode: b.mode ?? raw.mode,
      allowed_updates: b.allowed_updates,
      webhook_secret: b.webhook_secret,
      app_config: b.app_config,
      api_root: b.api_root,
      polling: b.polling === undefined ? undefined : definedOnly(b.polling),
      broadcast: b.broadcast === undefined ? undefined : definedOnly(b.broadcast),
      limits:
        b.limits === undefined
          ? undefined
          : definedOnly({
              outgoing: b.limits.outgoing === undefined ? undefined : definedOnly(b.limits.outgoing),
              incoming: b.limits.incoming === undefined ? undefined : definedOnly(b.limits.incoming),
            }),
    })),
  };
}

function botsOf(data: unknown): Array<Record<string, unknown>> {
  const bots = valueAt(data, ["bots"]);
  if (!Array.isArray(bots)) return [];
  return bots.map((b: unknown) => (b !== null && typeof b === "object" && !Array.isArray(b) ? (b as Record<string, unknown>) : {}));
}

// Only well-formed ids and tokens are compared: malformed ones are already reported, and a valid id cannot
// contain a token, so the duplicate-id message may quote it.
function duplicates(data: unknown, positions: Map<string, FieldPosition>): Found[] {
  const out: Found[] = [];
  const ids = new Map<string, number>();
  const tokens = new Map<string, number>();
  botsOf(data).forEach(({ id, token }, i) => {
    if (typeof id === "string" && ID_PATTERN.test(id)) {
      const first = ids.get(id);
      if (first === undefined) ids.set(id, i);
      else {
        const line = positionOf(positions, ["bots", first, "id"]).line;
        out.push({
          at: positionOf(positions, ["bots", i, "id"]),
          path: `bots[${i}].id`,
          message: `duplicate id "${id}" (first used at line ${line})`,
        });
      }
    }
    if (typeof token === "string" && TOKEN_PATTERN.test(token)) {
      const first = tokens.get(token);
      if (first === undefined) tokens.set(token, i);
      else {
        const line = positionOf(positions, ["bots", first, "token"]).line;
        out.push({
          at: positionOf(positions, ["bots", i, "token"]),
          path: `bots[${i}].token`,
          message: `same token as bots[${first}] (first used at line ${line})`,
        });
      }
    }
  });
  return out;
}

// Webhooks arrive through the HTTP server, so `http.listen: false` cannot serve a bot in webhook mode.
function webhookWithoutServer(data: unknown, positions: Map<string, FieldPosition>): Found[] {
  if (valueAt(data, ["http", "listen"]) !== false) return [];
  const topMode = valueAt(data, ["mode"]) ?? "polling";
  const ids = botsOf(data).flatMap((b, i) =>
    b.enabled === false || (b.mode ?? topMode) !== "webhook"
      ? []
      : [typeof b.id === "string" && ID_PATTERN.test(b.id) ? b.id : `bots[${i}]`],
  );
  if (ids.length === 0) return [];
  return [
    {
      at: positionOf(positions, ["http", "listen"]),
      path: "http.listen",
      message: `webhook mode needs the HTTP server, but it is off (bots in webhook mode: ${ids.join(", ")})`,
    },
  ];
}

function redisTargetOf(redis: RawConfig["redis"]): RedisTarget | undefined {
  if (redis === undefined) return undefined;
  if (redis.cluster !== undefined) return { kind: "cluster", nodes: redis.cluster };
  if (redis.sentinel !== undefined) return { kind: "sentinel", sentinels: redis.sentinel.sentinels, name: redis.sentinel.name };
  return redis.url === undefined || redis.url === "" ? undefined : { kind: "server", url: redis.url };
}

function redisTargets(data: unknown, positions: Map<string, FieldPosition>): Found[] {
  const given = (["url", "cluster", "sentinel"] as const).filter((k) => {
    const v = valueAt(data, ["redis", k]);
    return v !== undefined && v !== null && v !== "";
  });
  return given.slice(1).map((k) => ({
    at: positionOf(positions, ["redis", k]),
    path: `redis.${k}`,
    message: `use exactly one of redis.url, redis.cluster and redis.sentinel (redis.${given[0]} is set too)`,
  }));
}

function leasesWithoutRedis(data: unknown, positions: Map<string, FieldPosition>): Found[] {
  if (valueAt(data, ["leases", "enabled"]) !== true) return [];
  const target = (k: string): boolean => !["", null, undefined].includes(valueAt(data, ["redis", k]) as string | null | undefined);
  if (target("url") || target("cluster") || target("sentinel")) return [];
  return [
    {
      at: positionOf(positions, ["leases", "enabled"]),
      path: "leases.enabled",
      message:
        "sharing the bots between instances needs Redis: set redis.url (or redis.cluster or redis.sentinel), or remove leases.enabled to run every bot in this one process",
    },
  ];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** `o` without its undefined fields (an absent override and one written empty compare equal on reload). */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// 30 messages a second is Telegram's limit for a bot; paid broadcasts go beyond it.
function broadcastRates(data: unknown, positions: Map<string, FieldPosition>): Found[] {
  const top = (k: string): unknown => valueAt(data, ["broadcast", k]);
  const out: Found[] = [];
  const check = (path: Path, rate: unknown, paid: unknown): void => {
    if (typeof rate === "number" && rate > 30 && paid !== true) {
      out.push({
        at: positionOf(positions, path),
        path: formatPath(path),
        message:
          "above Telegram's 30 messages per second per bot: lower it, or set broadcast.paid: true for paid broadcasts (up to 1000 per second)",
      });
    }
  };
  check(["broadcast", "rate"], top("rate"), top("paid"));
  botsOf(data).forEach((b, i) => {
    const own = (b.broadcast ?? {}) as Record<string, unknown>;
    if (own.rate === undefined && own.paid === undefined) return;
    check(["bots", i, "broadcast", own.rate !== undefined ? "rate" : "paid"], own.rate ?? top("rate"), own.paid ?? top("paid"));
  });
  return out;
}
