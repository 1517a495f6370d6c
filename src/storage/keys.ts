/**
 * The one place that spells every Redis key. Every key lives under the configured prefix.
 *
 * - `session:<botId>:<chatKey>`: a chat's session (JSON), `botId` being the configured bot id.
 * - `journal:<botId>`: hash of fetched-but-unfinished updates (`update_id` -> Update JSON).
 * - `offset:<botId>`: the highest `update_id` ever journaled for the bot (the durable getUpdates cursor).
 * - `done:<botId>`: sorted set of the most recently finished webhook update ids (redelivery filter).
 * - `botinfo:<telegramBotId>`: cached `getMe` result, with a hash of the token it was fetched with.
 */
export interface KeyBuilder {
  readonly prefix: string;
  session(botId: string, chatKey: string): string;
  journal(botId: string): string;
  watermark(botId: string): string;
  done(botId: string): string;
  botInfo(telegramBotId: string): string;
}

/** Creates the key builder for `prefix` (for example `bot-host:`). */
export function createKeys(prefix: string): KeyBuilder {
  return {
    prefix,
    session: (botId, chatKey) => `${prefix}session:${botId}:${chatKey}`,
    journal: (botId) => `${prefix}journal:${botId}`,
    watermark: (botId) => `${prefix}offset:${botId}`,
    done: (botId) => `${prefix}done:${botId}`,
    botInfo: (telegramBotId) => `${prefix}botinfo:${telegramBotId}`,
  };
}
