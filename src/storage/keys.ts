/**
 * The one place that spells every Redis key. Every key lives under the configured prefix.
 *
 * - `session:<botId>:<chatKey>`: a chat's session (JSON), `botId` being the configured bot id.
 * - `plugin:<namespace>:<botId>:<key>`: a plugin's state (JSON) kept for one bot, `key` being the plugin's
 *   own key (for conversations the chat id).
 * - `journal:<botId>`: hash of fetched-but-unfinished updates (`update_id` -> Update JSON).
 * - `offset:<botId>`: the highest `update_id` ever journaled for the bot (the durable getUpdates cursor).
 * - `done:<botId>`: sorted set of the most recently finished webhook update ids (redelivery filter).
 * - `throttle:<botId>:sent`: sorted set of the bot's recent Bot API sends, for its per-bot limit across processes.
 * - `flood:<botId>:<userId>`: the incoming flood limit's counter of a user (with `limits.incoming`).
 * - `lease:<botId>`: which instance owns the bot, as `<instanceId>/<fence>`, expiring unless renewed.
 * - `fence:<botId>`: the bot's fencing counter, incremented on every acquisition of its lease.
 * - `instances`: sorted set of live instances, scored by when their heartbeat expires (ms).
 * - `instance-urls`: hash of each live instance's HTTP base URL (webhook requests are forwarded to a bot's owner).
 * - `leases` (a pub/sub channel, not a key): lease releases and instances joining or leaving.
 * - `botinfo:<telegramBotId>`: cached `getMe` result, with a hash of the token it was fetched with.
 */
export interface KeyBuilder {
  session(botId: string, chatKey: string): string;
  plugin(namespace: string, botId: string, key: string): string;
  journal(botId: string): string;
  watermark(botId: string): string;
  done(botId: string): string;
  throttle(botId: string): string;
  /** The prefix of the flood counters; @grammyjs/ratelimiter appends `<botId>:<userId>`. */
  floodPrefix(): string;
  lease(botId: string): string;
  fence(botId: string): string;
  instances(): string;
  instanceUrls(): string;
  leaseChannel(): string;
  botInfo(telegramBotId: string): string;
}

/** Creates the key builder for `prefix` (for example `bot-host:`). */
export function createKeys(prefix: string): KeyBuilder {
  return {
    session: (botId, chatKey) => `${prefix}session:${botId}:${chatKey}`,
    plugin: (namespace, botId, key) => `${prefix}plugin:${namespace}:${botId}:${key}`,
    journal: (botId) => `${prefix}journal:${botId}`,
    watermark: (botId) => `${prefix}offset:${botId}`,
    done: (botId) => `${prefix}done:${botId}`,
    throttle: (botId) => `${prefix}throttle:${botId}:sent`,
    floodPrefix: () => `${prefix}flood:`,
    lease: (botId) => `${prefix}lease:${botId}`,
    fence: (botId) => `${prefix}fence:${botId}`,
    instances: () => `${prefix}instances`,
    instanceUrls: () => `${prefix}instance-urls`,
    leaseChannel: () => `${prefix}leases`,
    botInfo: (telegramBotId) => `${prefix}botinfo:${telegramBotId}`,
  };
}
