/**
 * The one place that spells every Redis key. Every key lives under the configured prefix, and every key of one
 * bot carries the bot id as a Redis Cluster hash tag (`{<botId>}`), so each script that touches a bot's keys
 * (its journal, its sessions and plugin state, its lease) runs on one slot of a cluster.
 *
 * - `session:{<botId>}:<chatKey>`: a chat's session (JSON), `botId` being the configured bot id.
 * - `plugin:<namespace>:{<botId>}:<key>`: a plugin's state (JSON) kept for one bot, `key` being the plugin's
 *   own key (for conversations the chat id).
 * - `journal:{<botId>}`: hash of fetched-but-unfinished updates (`update_id` -> Update JSON).
 * - `offset:{<botId>}`: the highest `update_id` ever journaled for the bot (the durable getUpdates cursor).
 * - `done:{<botId>}`: sorted set of the most recently finished webhook update ids (redelivery filter).
 * - `attempts:{<botId>}`: hash of how often each journaled update was started (`<update_id>` -> count), and the
 *   last error known of an update that did not finish (`e:<update_id>` -> message).
 * - `dead:{<botId>}`: the bot's dead letters, updates set aside: `<update_id>` -> what happened (JSON: attempts,
 *   reason, error, when), `u:<update_id>` -> the update (JSON).
 * - `operators` (a pub/sub channel, not a key): an operator's command the running hosts act on (a dead letter
 *   retried or dropped, a broadcast campaign created or cancelled).
 * - `audience:{<botId>}`: sorted set of the private chats that wrote to the bot, scored by when (ms): whom a
 *   broadcast reaches; a chat that answers 403 leaves it.
 * - `campaigns:{<botId>}`: hash of the bot's broadcast campaigns (`<id>` -> JSON: text, status, total, when).
 * - `campaign:{<botId>}:<id>:todo` / `:inflight` / `:stats`: a campaign's recipients not tried yet (list), those
 *   being sent now (set; sent again after a crash), and its counts (`sent`, `blocked`, `failed`).
 * - `throttle:{<botId>}:sent`: sorted set of the bot's recent Bot API sends, for its per-bot limit across processes.
 * - `flood:{<botId>}:<userId>`: the incoming flood limit's counter of a user (with `limits.incoming`).
 * - `lease:{<botId>}`: which instance owns the bot, as `<instanceId>/<fence>`, valid while that instance is registered.
 * - `fence:{<botId>}`: the bot's fencing counter, incremented on every acquisition of its lease.
 * - `instances:{registry}`: sorted set of live instances, scored by when their heartbeat expires (ms).
 * - `instance-cutoff:{registry}`: hash of the live instances that cannot reach the Bot API now (they hand their bots
 *   to the others and take none); the same tag as `instances`.
 * - `instance-urls:{registry}`: hash of each live instance's HTTP base URL (webhook requests are passed to a
 *   bot's owner); the same tag as `instances`, as the heartbeat script writes both.
 * - `leases` (a pub/sub channel, not a key): lease releases and instances joining or leaving.
 * - `botinfo:<telegramBotId>`: cached `getMe` result, with a hash of the token it was fetched with.
 *
 * Before hash tags, the keys of a bot were spelled without braces (`session:<botId>:<chatKey>`, ...):
 * {@link legacyKeys} spells those for `bot-host migrate-keys`.
 */
export interface KeyBuilder {
  session(botId: string, chatKey: string): string;
  plugin(namespace: string, botId: string, key: string): string;
  journal(botId: string): string;
  watermark(botId: string): string;
  done(botId: string): string;
  attempts(botId: string): string;
  deadLetters(botId: string): string;
  operatorChannel(): string;
  audience(botId: string): string;
  campaigns(botId: string): string;
  campaign(botId: string, id: string, part: "todo" | "inflight" | "stats"): string;
  throttle(botId: string): string;
  /** The prefix of the flood counters; @grammyjs/ratelimiter appends {@link KeyBuilder.floodKey}. */
  floodPrefix(): string;
  /** The part of a flood counter's key after {@link KeyBuilder.floodPrefix}. */
  floodKey(botId: string, userId: number): string;
  lease(botId: string): string;
  fence(botId: string): string;
  instances(): string;
  instanceUrls(): string;
  instancesCutOff(): string;
  instancesLeaving(): string;
  leaseChannel(): string;
  botInfo(telegramBotId: string): string;
}

/** Creates the key builder for `prefix` (for example `bot-host:`). */
export function createKeys(prefix: string): KeyBuilder {
  return {
    session: (botId, chatKey) => `${prefix}session:{${botId}}:${chatKey}`,
    plugin: (namespace, botId, key) => `${prefix}plugin:${namespace}:{${botId}}:${key}`,
    journal: (botId) => `${prefix}journal:{${botId}}`,
    watermark: (botId) => `${prefix}offset:{${botId}}`,
    done: (botId) => `${prefix}done:{${botId}}`,
    attempts: (botId) => `${prefix}attempts:{${botId}}`,
    deadLetters: (botId) => `${prefix}dead:{${botId}}`,
    operatorChannel: () => `${prefix}operators`,
    audience: (botId) => `${prefix}audience:{${botId}}`,
    campaigns: (botId) => `${prefix}campaigns:{${botId}}`,
    campaign: (botId, id, part) => `${prefix}campaign:{${botId}}:${id}:${part}`,
    throttle: (botId) => `${prefix}throttle:{${botId}}:sent`,
    floodPrefix: () => `${prefix}flood:`,
    floodKey: (botId, userId) => `{${botId}}:${userId}`,
    lease: (botId) => `${prefix}lease:{${botId}}`,
    fence: (botId) => `${prefix}fence:{${botId}}`,
    instances: () => `${prefix}instances:{registry}`,
    instanceUrls: () => `${prefix}instance-urls:{registry}`,
    instancesCutOff: () => `${prefix}instance-cutoff:{registry}`,
    instancesLeaving: () => `${prefix}instance-leaving:{registry}`,
    leaseChannel: () => `${prefix}leases`,
    botInfo: (telegramBotId) => `${prefix}botinfo:${telegramBotId}`,
  };
}

/** The keys of one bot as spelled before hash tags: single keys, and SCAN patterns for the per-chat ones. */
export interface LegacyBotKeys {
  /** Old name -> new name, for the bot's single keys. */
  readonly single: ReadonlyArray<readonly [string, string]>;
  /** SCAN patterns of the bot's per-chat keys, each with the function naming the new key of a match. */
  readonly patterns: ReadonlyArray<{ readonly match: string; readonly rename: (oldKey: string) => string | undefined }>;
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}

/** Spells the old (untagged) keys of `botId` under `prefix` and their new names. */
export function legacyKeys(prefix: string, botId: string): LegacyBotKeys {
  const keys = createKeys(prefix);
  const p = globEscape(prefix);
  const tail = (oldKey: string, head: string): string | undefined => (oldKey.startsWith(head) ? oldKey.slice(head.length) : undefined);
  return {
    single: [
      [`${prefix}journal:${botId}`, keys.journal(botId)],
      [`${prefix}offset:${botId}`, keys.watermark(botId)],
      [`${prefix}done:${botId}`, keys.done(botId)],
      [`${prefix}throttle:${botId}:sent`, keys.throttle(botId)],
    ],
    patterns: [
      {
        match: `${p}session:${botId}:*`,
        rename: (oldKey) => {
          const chat = tail(oldKey, `${prefix}session:${botId}:`);
          return chat === undefined ? undefined : keys.session(botId, chat);
        },
      },
      {
        match: `${p}plugin:*:${botId}:*`,
        rename: (oldKey) => {
          const rest = tail(oldKey, `${prefix}plugin:`);
          const m = rest === undefined ? null : /^([A-Za-z0-9_.-]{1,64}):([^:]+):(.*)$/.exec(rest);
          return m === null || m[2] !== botId ? undefined : keys.plugin(m[1]!, botId, m[3]!);
        },
      },
    ],
  };
}
