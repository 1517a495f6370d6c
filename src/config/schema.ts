import * as v from "valibot";
import type { Path } from "./positions.js";
import { TOKEN_PATTERN } from "./token.js";

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

const int = (min: number, max: number = Number.MAX_SAFE_INTEGER) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
/** A number above 0, at most `max`. */
const positive = (max: number) => v.pipe(v.number(), v.gtValue(0), v.maxValue(max));
const mode = v.picklist(["polling", "webhook"]);

/** A string checked by `problem`, which returns the message to report or undefined when the value is fine. */
const checked = (problem: (value: string) => string | undefined) =>
  v.pipe(
    v.string(),
    v.rawCheck<string>(({ dataset, addIssue }) => {
      const message = dataset.typed ? problem(dataset.value) : undefined;
      if (message !== undefined) addIssue({ message });
    }),
  );

// valibot's object and record schemas take any object, a YAML list included: this check comes first.
const mapping = v.custom<Record<string, unknown>>((x) => typeof x === "object" && x !== null && !Array.isArray(x));
const strict = <T extends v.ObjectEntries>(entries: T) => v.pipe(mapping, v.strictObject(entries));
const anyMapping = v.pipe(mapping, v.record(v.string(), v.unknown()));

const undefinedIfNull = <T>(x: T | null | undefined): T | undefined => x ?? undefined;
const undefinedIfEmpty = (x: unknown): unknown => (x === "" || x === null ? undefined : x);
// `section:` with every child commented out is null in YAML; treat it like an absent section.
const nullAsAbsent = <T extends v.GenericSchema>(schema: T) => v.pipe(v.nullish(schema), v.transform(undefinedIfNull));
// `secret: ${WEBHOOK_SECRET:-}` is the idiom for "optional from the environment": empty means not set.
const emptyAsAbsent = <T extends v.GenericSchema>(schema: T) =>
  v.optional(v.pipe(v.unknown(), v.transform(undefinedIfEmpty), v.optional(schema)));

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
  (s) => urlProblem(s, ["http:", "https:"], "an http:// or https:// URL") ?? (s.endsWith("/") ? "remove the trailing /" : undefined),
);

const redisUrl = checked((s) =>
  s === "" ? undefined : urlProblem(s, ["redis:", "rediss:"], "a redis:// or rediss:// URL (or empty for no Redis)"),
);

const listen = v.union([v.literal(false), checked(listenProblem)], "must be host:port (e.g. 0.0.0.0:8080) or false");

function listenProblem(s: string): string | undefined {
  const m = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(s);
  if (m === null) return "must be host:port (e.g. 0.0.0.0:8080) or false";
  return Number(m[1]) > 65_535 ? "port must be 0..65535" : undefined;
}

const pathPrefix = checked((s) => {
  if (!s.startsWith("/")) return 'must start with "/"';
  if (s.endsWith("/")) return 'must not end with "/"';
  return /^[A-Za-z0-9_.~/-]+$/.test(s) ? undefined : "may only contain letters, digits, /, _, -, . and ~";
});

const hostPort = checked((s) =>
  /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]]+):\d{1,5}$/.test(s) && Number(s.slice(s.lastIndexOf(":") + 1)) <= 65_535
    ? undefined
    : "must be host:port",
);
const sentinelShape = {
  sentinels: v.pipe(v.array(hostPort), v.minLength(1, "must list at least one sentinel as host:port")),
  name: v.pipe(v.string(), v.minLength(1, "must name the master the sentinels watch")),
};
const redisShape = {
  url: v.optional(redisUrl),
  cluster: nullAsAbsent(v.pipe(v.array(hostPort), v.minLength(1, "must list at least one seed node as host:port"))),
  sentinel: nullAsAbsent(strict(sentinelShape)),
  username: emptyAsAbsent(v.string()),
  password: emptyAsAbsent(v.string()),
  tls: v.optional(v.boolean(), false),
  min_replicas: v.optional(int(0, 16), 0),
  key_prefix: v.optional(v.string(), DEFAULT_KEY_PREFIX),
  session_ttl: v.optional(int(0), 0),
};
const leasesShape = {
  // Absent: on whenever Redis is configured. `true` without Redis is an error; `false` runs every bot here.
  enabled: v.optional(v.boolean()),
  ttl: v.optional(v.pipe(v.number(), v.minValue(2), v.maxValue(60)), 10),
  balance: v.optional(v.boolean(), true),
  // What a restart of this process keeps (a pod's name, say); default: the host name.
  instance: emptyAsAbsent(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 letters, digits, _, . or -"))),
};
// The fields a bot may set for itself too (its own `polling` and `limits`): each range is written once, here; the
// top level adds the defaults, a bot's own value is optional (absent: the top-level one).
const pollingFields = { limit: int(1, 100), timeout: int(0, 50), concurrency: int(1, 100_000) };
const outgoingFields = { enabled: v.boolean(), per_bot: positive(100_000), per_chat: positive(100_000), per_group: positive(1_000_000) };
const broadcastFields = { audience: v.boolean(), rate: positive(1000), paid: v.boolean() };
const incomingFields = { enabled: v.boolean(), per_user: int(1, 1_000_000), window: positive(3600) };
const pollingShape = {
  limit: v.optional(pollingFields.limit, 100),
  timeout: v.optional(pollingFields.timeout, 30),
  concurrency: v.optional(pollingFields.concurrency, 500),
  global_concurrency: v.optional(int(1, 1_000_000), 10_000),
};
const updatesShape = {
  max_attempts: v.optional(int(1, 100), 3),
  // Seconds; 0 turns the timeout off.
  handler_timeout: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(86_400)), 60),
};
const shutdownShape = { drain_timeout: v.optional(positive(3600), 10) };
const httpShape = {
  listen: v.optional(listen, "0.0.0.0:8080"),
  max_sockets: v.optional(int(0), 0),
  advertise_url: emptyAsAbsent(httpUrl),
};
const webhookShape = {
  public_url: emptyAsAbsent(httpUrl),
  path_prefix: v.optional(pathPrefix, "/telegram"),
  secret: emptyAsAbsent(v.pipe(v.string(), v.minLength(16, "must be at least 16 characters"))),
  max_connections: v.optional(int(1, 100), 40),
};
const retryShape = {
  max_attempts: v.optional(int(0, 100), 5),
  max_delay: v.optional(positive(3600), 30),
};
const outgoingShape = {
  enabled: v.optional(outgoingFields.enabled, true),
  per_bot: v.optional(outgoingFields.per_bot, 30),
  per_chat: v.optional(outgoingFields.per_chat, 1),
  per_group: v.optional(outgoingFields.per_group, 20),
};
const incomingShape = {
  enabled: v.optional(incomingFields.enabled, false),
  per_user: v.optional(incomingFields.per_user, 3),
  window: v.optional(incomingFields.window, 1),
};
const broadcastShape = {
  // Record the private chats that write to each bot (the audience of a broadcast).
  audience: v.optional(broadcastFields.audience, true),
  // Messages per second a campaign may send (what the bot's limit leaves after replies, at most this).
  rate: v.optional(broadcastFields.rate, 20),
  // Paid broadcasts (allow_paid_broadcast): up to 1000 messages per second, charged in Telegram Stars.
  paid: v.optional(broadcastFields.paid, false),
};
// Each default is written once, on its field: an absent or empty section is parsed as `{}`, which fills them in.
const section = <T extends v.ObjectEntries>(entries: T) => v.nullish(strict(entries), {});
const limitsShape = {
  retry: section(retryShape),
  outgoing: section(outgoingShape),
  incoming: section(incomingShape),
};
const optional = <T extends Record<string, v.GenericSchema>>(fields: T): { [K in keyof T]: v.OptionalSchema<T[K], undefined> } =>
  Object.fromEntries(Object.entries(fields).map(([k, s]) => [k, v.optional(s)])) as { [K in keyof T]: v.OptionalSchema<T[K], undefined> };
const botPollingShape = optional(pollingFields);
const botBroadcastShape = optional(broadcastFields);
const botOutgoingShape = optional(outgoingFields);
const botIncomingShape = optional(incomingFields);
const botLimitsShape = {
  outgoing: nullAsAbsent(strict(botOutgoingShape)),
  incoming: nullAsAbsent(strict(botIncomingShape)),
};
const botShape = {
  id: v.pipe(v.string(), v.regex(ID_PATTERN, "must be 1-64 letters, digits, _ or -, starting with a letter or digit")),
  token: v.pipe(v.string(), v.regex(TOKEN_PATTERN, MALFORMED_TOKEN)),
  enabled: v.optional(v.boolean(), true),
  allowed_updates: v.optional(v.array(v.picklist(UPDATE_TYPES))),
  mode: v.optional(mode),
  webhook_secret: emptyAsAbsent(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,256}$/, "must be 1-256 characters of A-Z, a-z, 0-9, _ and -")),
  ),
  // Merged over the top-level app_config (mappings deeply, everything else replaced).
  app_config: nullAsAbsent(anyMapping),
  api_root: v.optional(httpUrl),
  polling: nullAsAbsent(strict(botPollingShape)),
  limits: nullAsAbsent(strict(botLimitsShape)),
  broadcast: nullAsAbsent(strict(botBroadcastShape)),
};
const topShape = {
  app: v.pipe(v.string(), v.minLength(1, "must name the app module")),
  app_config: v.nullish(anyMapping, () => ({})),
  api_root: v.optional(httpUrl, "https://api.telegram.org"),
  mode: v.optional(mode, "polling"),
  redis: nullAsAbsent(strict(redisShape)),
  leases: section(leasesShape),
  polling: section(pollingShape),
  updates: section(updatesShape),
  shutdown: section(shutdownShape),
  http: section(httpShape),
  webhook: section(webhookShape),
  limits: section(limitsShape),
  broadcast: section(broadcastShape),
  bots: v.array(strict(botShape)),
};

/** The one schema of bots.yaml, as written (per-bot `mode` not yet resolved, `redis` not yet normalized). */
export const configSchema = strict(topShape);

/** The file as validated by {@link configSchema}. */
export type RawConfig = v.InferOutput<typeof configSchema>;

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

/** What {@link collectKinds} reads of a schema: valibot keeps the parts of a schema as plain properties. */
interface SchemaNode {
  readonly kind: string;
  readonly type: string;
  readonly wrapped?: SchemaNode;
  readonly pipe?: readonly SchemaNode[];
  readonly options?: readonly unknown[];
  readonly entries?: Readonly<Record<string, SchemaNode>>;
  readonly item?: SchemaNode;
  readonly literal?: unknown;
}

function collectKinds(schema: SchemaNode, path: Path, kinds: ScalarKinds): void {
  if (schema.wrapped !== undefined) return collectKinds(schema.wrapped, path, kinds);
  // A pipe's checks and transforms apply to the schema it ends with (the first item, for a checked string).
  const last = schema.pipe?.findLast((item) => item.kind === "schema");
  if (last !== undefined) return collectKinds(last, path, kinds);
  if (schema.type === "union") {
    for (const option of schema.options as readonly SchemaNode[]) collectKinds(option, path, kinds);
    return;
  }
  const [head, ...rest] = path;
  if (head === undefined) {
    if (schema.type === "number") kinds.number = true;
    if (schema.type === "boolean" || typeof schema.literal === "boolean") kinds.boolean = true;
    return;
  }
  const child = typeof head === "string" ? schema.entries?.[head] : schema.item;
  if (child !== undefined) collectKinds(child, rest, kinds);
}
