import { createRequire } from "node:module";
import type { z as Zod } from "zod";
import type { Path } from "./positions.js";
import { TOKEN_PATTERN } from "./token.js";

// zod's CommonJS build: the same code, and 15 to 20 ms less to load than its ES modules (measured with
// bench/startup.mjs --cli), which is what keeps `bot-host check` fast. Nothing else imports zod at run time.
const { z } = createRequire(import.meta.url)("zod") as { z: typeof Zod };
// The schema parses one file once: compiling its object parsers costs more than it saves.
z.config({ jitless: true });

/** Update types Telegram knows (for `allowed_updates`). */
export const UPDATE_TYPES = [
  "message",
  "edited_message",
  "channel_post",
  "edited_channel_post",
  "business_connection",
  "business_message",
  "edited_business_message",
  "deleted_business_messages",
  "message_reaction",
  "message_reaction_count",
  "inline_query",
  "chosen_inline_result",
  "callback_query",
  "shipping_query",
  "pre_checkout_query",
  "purchased_paid_media",
  "poll",
  "poll_answer",
  "my_chat_member",
  "chat_member",
  "chat_join_request",
  "chat_boost",
  "removed_chat_boost",
] as const;

/** The message for a token that does not have the Bot API shape; it never shows the value. */
export const MALFORMED_TOKEN = 'malformed token: expected "<digits>:<30+ letters, digits, _ or ->" like 123456:ABC...';

/** The prefix of every Redis key when bots.yaml names none. */
export const DEFAULT_KEY_PREFIX = "bot-host:";

/** A bot id: used in logs, metrics and URLs. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const int = (min: number, max: number = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const mode = z.enum(["polling", "webhook"]);

/** A string checked by `problem`, which returns the message to report or undefined when the value is fine. */
const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: "custom", message });
  });

// `section:` with every child commented out is null in YAML; treat it like an absent section.
const nullAsAbsent = <T extends Zod.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema);
// `secret: ${WEBHOOK_SECRET:-}` is the idiom for "optional from the environment": empty means not set.
const emptyAsAbsent = <T extends Zod.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "" || v === null ? undefined : v), schema.optional());

function urlProblem(value: string, protocols: readonly string[], what: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be ${what}`;
  }
  if (!protocols.includes(url.protocol) || url.hostname === "" || /\s/.test(value)) return `must be ${what}`;
  return undefined;
}

const httpUrl = checked(
  (v) => urlProblem(v, ["http:", "https:"], "an http:// or https:// URL") ?? (v.endsWith("/") ? "remove the trailing /" : undefined),
);

const redisUrl = checked((v) =>
  v === "" ? undefined : urlProblem(v, ["redis:", "rediss:"], "a redis:// or rediss:// URL (or empty for no Redis)"),
);

const listen = z.union([z.literal(false), checked(listenProblem)], { error: "must be host:port (e.g. 0.0.0.0:8080) or false" });

function listenProblem(v: string): string | undefined {
  const m = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(v);
  if (m === null) return "must be host:port (e.g. 0.0.0.0:8080) or false";
  return Number(m[1]) > 65_535 ? "port must be 0..65535" : undefined;
}

const pathPrefix = checked((v) => {
  if (!v.startsWith("/")) return 'must start with "/"';
  if (v.endsWith("/")) return 'must not end with "/"';
  return /^[A-Za-z0-9_.~/-]+$/.test(v) ? undefined : "may only contain letters, digits, /, _, -, . and ~";
});

const hostPort = checked((v) =>
  /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(v) && Number(v.slice(v.lastIndexOf(":") + 1)) <= 65_535
    ? undefined
    : "must be host:port",
);
const sentinelShape = {
  sentinels: z.array(hostPort).min(1, { message: "must list at least one sentinel as host:port" }),
  name: z.string().min(1, { message: "must name the master the sentinels watch" }),
};
const redisShape = {
  url: redisUrl.optional(),
  cluster: nullAsAbsent(z.array(hostPort).min(1, { message: "must list at least one seed node as host:port" }).optional()),
  sentinel: nullAsAbsent(z.strictObject(sentinelShape).optional()),
  username: emptyAsAbsent(z.string()),
  password: emptyAsAbsent(z.string()),
  tls: z.boolean().default(false),
  min_replicas: int(0, 16).default(0),
  key_prefix: z.string().default(DEFAULT_KEY_PREFIX),
  session_ttl: int(0).default(0),
};
const leasesShape = {
  // Absent: on whenever Redis is configured. `true` without Redis is an error; `false` runs every bot here.
  enabled: z.boolean().optional(),
  ttl: z.number().min(2).max(60).default(10),
  balance: z.boolean().default(true),
  // What a restart of this process keeps (a pod's name, say); default: the host name.
  instance: emptyAsAbsent(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: "must be 1-64 letters, digits, _, . or -" })),
};
// The fields a bot may set for itself too (its own `polling` and `limits`): each range is written once, here; the
// top level adds the defaults, a bot's own value is optional (absent: the top-level one).
const pollingFields = { limit: int(1, 100), timeout: int(0, 50), concurrency: int(1, 100_000) };
const outgoingFields = {
  enabled: z.boolean(),
  per_bot: z.number().gt(0).max(100_000),
  per_chat: z.number().gt(0).max(100_000),
  per_group: z.number().gt(0).max(1_000_000),
};
const broadcastFields = { audience: z.boolean(), rate: z.number().gt(0).max(1000), paid: z.boolean() };
const incomingFields = { enabled: z.boolean(), per_user: int(1, 1_000_000), window: z.number().gt(0).max(3600) };
const pollingShape = {
  limit: pollingFields.limit.default(100),
  timeout: pollingFields.timeout.default(30),
  concurrency: pollingFields.concurrency.default(500),
  global_concurrency: int(1, 1_000_000).default(10_000),
};
const updatesShape = {
  max_attempts: int(1, 100).default(3),
  // Seconds; 0 turns the timeout off.
  handler_timeout: z.number().min(0).max(86_400).default(60),
};
const shutdownShape = {
  drain_timeout: z.number().gt(0).max(3600).default(10),
};
const httpShape = {
  listen: listen.default("0.0.0.0:8080"),
  max_sockets: int(0).default(0),
  advertise_url: emptyAsAbsent(httpUrl),
};
const webhookShape = {
  public_url: emptyAsAbsent(httpUrl),
  path_prefix: pathPrefix.default("/telegram"),
  secret: emptyAsAbsent(z.string().min(16, { message: "must be at least 16 characters" })),
  max_connections: int(1, 100).default(40),
};
const retryShape = {
  max_attempts: int(0, 100).default(5),
  max_delay: z.number().gt(0).max(3600).default(30),
};
const outgoingShape = {
  enabled: outgoingFields.enabled.default(true),
  per_bot: outgoingFields.per_bot.default(30),
  per_chat: outgoingFields.per_chat.default(1),
  per_group: outgoingFields.per_group.default(20),
};
const incomingShape = {
  enabled: incomingFields.enabled.default(false),
  per_user: incomingFields.per_user.default(3),
  window: incomingFields.window.default(1),
};
const broadcastShape = {
  // Record the private chats that write to each bot (the audience of a broadcast).
  audience: broadcastFields.audience.default(true),
  // Messages per second a campaign may send (what the bot's limit leaves after replies, at most this).
  rate: broadcastFields.rate.default(20),
  // Paid broadcasts (allow_paid_broadcast): up to 1000 messages per second, charged in Telegram Stars.
  paid: broadcastFields.paid.default(false),
};
// Each default is written once, on its field: an absent section is parsed as `{}` (prefault), which fills them in.
const limitsShape = {
  retry: nullAsAbsent(z.strictObject(retryShape).prefault({})),
  outgoing: nullAsAbsent(z.strictObject(outgoingShape).prefault({})),
  incoming: nullAsAbsent(z.strictObject(incomingShape).prefault({})),
};
const optional = <T extends Record<string, Zod.ZodType>>(fields: T): { [K in keyof T]: Zod.ZodOptional<T[K]> } =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.optional()])) as { [K in keyof T]: Zod.ZodOptional<T[K]> };
const botPollingShape = optional(pollingFields);
const botBroadcastShape = optional(broadcastFields);
const botOutgoingShape = optional(outgoingFields);
const botIncomingShape = optional(incomingFields);
const botLimitsShape = {
  outgoing: nullAsAbsent(z.strictObject(botOutgoingShape).optional()),
  incoming: nullAsAbsent(z.strictObject(botIncomingShape).optional()),
};
const botShape = {
  id: z.string().regex(ID_PATTERN, {
    message: "must be 1-64 letters, digits, _ or -, starting with a letter or digit",
  }),
  token: z.string().regex(TOKEN_PATTERN, { message: MALFORMED_TOKEN }),
  enabled: z.boolean().default(true),
  allowed_updates: z.array(z.enum(UPDATE_TYPES)).optional(),
  mode: mode.optional(),
  webhook_secret: emptyAsAbsent(
    z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, { message: "must be 1-256 characters of A-Z, a-z, 0-9, _ and -" }),
  ),
  // Merged over the top-level app_config (mappings deeply, everything else replaced).
  app_config: nullAsAbsent(z.record(z.string(), z.unknown()).optional()),
  api_root: httpUrl.optional(),
  polling: nullAsAbsent(z.strictObject(botPollingShape).optional()),
  limits: nullAsAbsent(z.strictObject(botLimitsShape).optional()),
  broadcast: nullAsAbsent(z.strictObject(botBroadcastShape).optional()),
};
const topShape = {
  app: z.string().min(1, { message: "must name the app module" }),
  app_config: nullAsAbsent(z.record(z.string(), z.unknown()).default(() => ({}))),
  api_root: httpUrl.default("https://api.telegram.org"),
  mode: mode.default("polling"),
  redis: nullAsAbsent(z.strictObject(redisShape).optional()),
  leases: nullAsAbsent(z.strictObject(leasesShape).prefault({})),
  polling: nullAsAbsent(z.strictObject(pollingShape).prefault({})),
  updates: nullAsAbsent(z.strictObject(updatesShape).prefault({})),
  shutdown: nullAsAbsent(z.strictObject(shutdownShape).prefault({})),
  http: nullAsAbsent(z.strictObject(httpShape).prefault({})),
  webhook: nullAsAbsent(z.strictObject(webhookShape).prefault({})),
  limits: nullAsAbsent(z.strictObject(limitsShape).prefault({})),
  broadcast: nullAsAbsent(z.strictObject(broadcastShape).prefault({})),
  bots: z.array(z.strictObject(botShape)),
};

/** The one schema of bots.yaml, as written (per-bot `mode` not yet resolved, `redis` not yet normalized). */
export const configSchema = z.strictObject(topShape);

/** The file as validated by {@link configSchema}. */
export type RawConfig = Zod.output<typeof configSchema>;

/** Keys allowed in each mapping, by the path of the mapping (`bots[]` for any bot): for "did you mean". */
export const ALLOWED_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(topShape),
  redis: Object.keys(redisShape),
  "redis.sentinel": Object.keys(sentinelShape),
  leases: Object.keys(leasesShape),
  polling: Object.keys(pollingShape),
  updates: Object.keys(updatesShape),
  shutdown: Object.keys(shutdownShape),
  http: Object.keys(httpShape),
  webhook: Object.keys(webhookShape),
  limits: Object.keys(limitsShape),
  "limits.retry": Object.keys(retryShape),
  "limits.outgoing": Object.keys(outgoingShape),
  "limits.incoming": Object.keys(incomingShape),
  "bots[]": Object.keys(botShape),
  broadcast: Object.keys(broadcastShape),
  "bots[].broadcast": Object.keys(botBroadcastShape),
  "bots[].polling": Object.keys(botPollingShape),
  "bots[].limits": Object.keys(botLimitsShape),
  "bots[].limits.outgoing": Object.keys(botOutgoingShape),
  "bots[].limits.incoming": Object.keys(botIncomingShape),
};

/** Which scalar types a field accepts besides strings: what an interpolated string may be coerced to. */
export interface ScalarKinds {
  number: boolean;
  boolean: boolean;
}

/** The scalar types the field at `path` accepts, found by walking {@link configSchema}. */
export function scalarKindsAt(path: Path): ScalarKinds {
  const kinds: ScalarKinds = { number: false, boolean: false };
  collectKinds(configSchema, path, kinds);
  return kinds;
}

function collectKinds(schema: Zod.ZodType, path: Path, kinds: ScalarKinds): void {
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault || schema instanceof z.ZodOptional)
    return collectKinds(schema.unwrap() as Zod.ZodType, path, kinds);
  if (schema instanceof z.ZodPipe) return collectKinds(schema.out as Zod.ZodType, path, kinds);
  if (schema instanceof z.ZodUnion) {
    for (const option of schema.options as readonly Zod.ZodType[]) collectKinds(option, path, kinds);
    return;
  }
  const [head, ...rest] = path;
  if (head === undefined) {
    if (schema instanceof z.ZodNumber) kinds.number = true;
    if (schema instanceof z.ZodBoolean) kinds.boolean = true;
    if (schema instanceof z.ZodLiteral && [...schema.values].some((v) => typeof v === "boolean")) kinds.boolean = true;
    return;
  }
  if (schema instanceof z.ZodObject && typeof head === "string") {
    const child = (schema.shape as Record<string, Zod.ZodType | undefined>)[head];
    if (child !== undefined) collectKinds(child, rest, kinds);
  } else if (schema instanceof z.ZodArray && typeof head === "number") {
    collectKinds(schema.element as Zod.ZodType, rest, kinds);
  }
}
