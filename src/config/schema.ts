import { z } from "zod";
import { TOKEN_PATTERN } from "./token.js";

/** Update types Telegram knows (for `allowed_updates`). */
export const UPDATE_TYPES = [
  "message", "edited_message", "channel_post", "edited_channel_post", "business_connection", "business_message",
  "edited_business_message", "deleted_business_messages", "message_reaction", "message_reaction_count",
  "inline_query", "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query",
  "purchased_paid_media", "poll", "poll_answer", "my_chat_member", "chat_member", "chat_join_request",
  "chat_boost", "removed_chat_boost",
] as const;

// Numbers and booleans may come from `${VAR}` interpolation as strings.
const num = (inner: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v), inner);
const int = (min: number, max: number) => num(z.number().int().min(min).max(max));
const bool = z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean());
const httpUrl = z
  .string()
  .regex(/^https?:\/\/[^\s/]+(\/\S*)?$/, { message: "must be an http:// or https:// URL" })
  .refine((u) => !u.endsWith("/"), { message: "remove the trailing /" });
const mode = z.enum(["polling", "webhook"]);

const redisShape = {
  url: z.string().regex(/^(rediss?:\/\/\S*)?$/, { message: "must be a redis:// or rediss:// URL (or empty for no Redis)" }),
  key_prefix: z.string().default("bot-host:"),
  session_ttl: int(0, 2 ** 31).default(0),
};
const pollingShape = {
  limit: int(1, 100).default(100),
  timeout: int(0, 50).default(30),
  concurrency: int(1, 100_000).default(500),
  global_concurrency: int(1, 1_000_000).default(10_000),
};
const shutdownShape = {
  drain_timeout: num(z.number().gt(0).max(3600)).default(10),
};
const httpShape = {
  listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^\s:]+):\d{1,5}$/, { message: "must be host:port, e.g. 0.0.0.0:8080" }).default("0.0.0.0:8080"),
  max_sockets: int(0, 100_000).default(0),
};
const webhookShape = {
  public_url: httpUrl.optional(),
  path_prefix: z
    .string()
    .regex(/^\/[A-Za-z0-9_\-/.]*[A-Za-z0-9_\-.]$/, { message: 'must start with "/" and not end with "/"' })
    .default("/telegram"),
  secret: z.string().min(16, { message: "must be at least 16 characters" }).optional(),
  max_connections: int(1, 100).default(40),
};
const botShape = {
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, {
    message: "must be 1-64 letters, digits, _ or -, starting with a letter or digit",
  }),
  token: z.string().regex(TOKEN_PATTERN, {
    message: 'malformed token: expected "<digits>:<30+ letters, digits, _ or ->" like 123456:ABC-DEF...',
  }),
  enabled: bool.default(true),
  allowed_updates: z.array(z.enum(UPDATE_TYPES)).optional(),
  mode: mode.optional(),
  webhook_secret: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,256}$/, { message: "must be 1-256 characters of A-Z, a-z, 0-9, _ and -" })
    .optional(),
};
const topShape = {
  app: z.string().min(1, { message: "must name the app module" }),
  app_config: z.record(z.string(), z.unknown()).default({}),
  api_root: httpUrl.default("https://api.telegram.org"),
  mode: mode.default("polling"),
  redis: z.strictObject(redisShape).optional(),
  polling: z.strictObject(pollingShape).default(() => ({ limit: 100, timeout: 30, concurrency: 500, global_concurrency: 10_000 })),
  shutdown: z.strictObject(shutdownShape).default(() => ({ drain_timeout: 10 })),
  http: z.strictObject(httpShape).default(() => ({ listen: "0.0.0.0:8080", max_sockets: 0 })),
  webhook: z.strictObject(webhookShape).default(() => ({ path_prefix: "/telegram", max_connections: 40 })),
  bots: z.array(z.strictObject(botShape)),
};

/** The one schema of bots.yaml (before defaults are resolved per bot). */
export const configSchema = z.strictObject(topShape);

/** Keys allowed in each mapping, by the path of the mapping (`bots[]` for any bot): for "did you mean". */
export const ALLOWED_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": Object.keys(topShape),
  redis: Object.keys(redisShape),
  polling: Object.keys(pollingShape),
  shutdown: Object.keys(shutdownShape),
  http: Object.keys(httpShape),
  webhook: Object.keys(webhookShape),
  "bots[]": Object.keys(botShape),
};

/** The file as validated by {@link configSchema}. */
export type RawConfig = z.infer<typeof configSchema>;
