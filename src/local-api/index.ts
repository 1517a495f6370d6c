/**
 * `bot-host/local-api`: a local Telegram Bot API server on 127.0.0.1, to test bots against without Telegram.
 * `bot-host bench` and the playground run against it too; the host itself never loads it.
 *
 * Start one with {@link LocalBotApi.start}, register tokens with {@link LocalBotApi.addBot} (any `<id>:<secret>`),
 * point grammY at {@link LocalBotApi.apiRoot} (`new Bot(token, { client: { apiRoot } })`, or `api_root` in
 * bots.yaml), queue updates with {@link LocalBotApi.inject} (built with {@link message}, {@link command},
 * {@link callbackQuery}) and wait for the replies with {@link LocalBotApi.waitForSent}.
 *
 * What it models, like Telegram: 401 for unknown or removed tokens, 404 for unknown methods; getUpdates with
 * offsets (an offset confirms the updates before it; a negative one keeps the last ones), `limit`, long polling
 * (`timeout` up to 50 s) and `allowed_updates`; 409 for a long poll that another long poll or setWebhook replaces
 * and for getUpdates while a webhook is set; webhooks (`secret_token` sent as `X-Telegram-Bot-Api-Secret-Token`,
 * the updates of one chat delivered one after another, a failed delivery retried, a method in the webhook's answer
 * run as a call); 429 with `parameters.retry_after` (and a `Retry-After` header) for flood-wait rules
 * ({@link LocalBotApi.rateLimit}) and, with the `limits` option, for Telegram's published limits (1 message/s per
 * chat, 20/min per group or channel, 30/s per bot). Every call is recorded for assertions; failures, delays and
 * connection resets can be injected; {@link LocalBotApi.world} simulates users, private chats and groups.
 *
 * @packageDocumentation
 */
export { LocalBotApi, ApiError } from "./local-bot-api.js";
export type { ChatWorld } from "./bot-api/world.js";
export type {
  BotOptions,
  BotUser,
  CallRecord,
  DeliveryRecord,
  LocalBotApiOptions,
  MethodHandler,
  Params,
  RateLimitRule,
  ResponseParameters,
  SentRecord,
  TelegramLimits,
  UpdateBody,
  WebhookSettings,
} from "./bot-api/types.js";
export type { WorldBot, WorldChat, WorldEvent, WorldMessage, WorldSender, WorldUser } from "./bot-api/world-types.js";
export { callbackQuery, chatOf, command, message, userOf, type CallbackQueryOptions, type MessageOptions } from "./updates.js";
