import type { Redis } from "ioredis";
import { loadConfig, type Config } from "../config/index.js";
import { resolveSettings, type HostSettings, type RedisSettings } from "../config/settings.js";
import { ExitCodes } from "../errors.js";
import type { KeyBuilder } from "../storage/keys.js";
import type { OperatorChannel } from "../storage/operator-channel.js";
import { reportError } from "./print.js";

/** The settings of an operator command that works on Redis: Redis is there. */
export type OperatorSettings = HostSettings & { readonly redis: RedisSettings };

/**
 * Loads the config of an operator command (`broadcast`, `dead-letters`): the settings, or the exit code after the
 * problem was printed (a bad file, or no Redis: `whyRedis` says why the command needs it).
 */
export async function operatorSettings(configPath: string, whyRedis: string): Promise<OperatorSettings | number> {
  let config: Config;
  try {
    config = await loadConfig(configPath);
  } catch (err) {
    return reportError(err);
  }
  const settings = resolveSettings(config);
  if (settings.redis === undefined) {
    process.stderr.write(`${configPath}: no Redis configured: ${whyRedis}\n`);
    return ExitCodes.CONFIG;
  }
  return settings as OperatorSettings;
}

/** What {@link withOperatorRedis} hands the command. */
export interface OperatorRedis {
  readonly redis: Redis;
  readonly keys: KeyBuilder;
  /** The `operators` channel the running hosts listen on. */
  readonly channel: OperatorChannel;
}

/**
 * Runs `command` on a short-lived Redis connection that fails fast (one try, no reconnect), and disconnects after.
 * When Redis cannot be reached, says so naming `what` and the (redacted) URL, and exits 1.
 */
export async function withOperatorRedis(
  settings: OperatorSettings,
  what: string,
  command: (o: OperatorRedis) => Promise<number>,
): Promise<number> {
  const [{ createRedisClient }, { createKeys }, { OperatorChannel }] = await Promise.all([
    import("../storage/redis-client.js"),
    import("../storage/keys.js"),
    import("../storage/operator-channel.js"),
  ]);
  const redis = createRedisClient(settings.redis, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    const keys = createKeys(settings.keyPrefix);
    return await command({ redis, keys, channel: new OperatorChannel({ redis, keys }) });
  } catch (err) {
    process.stderr.write(`cannot reach ${what} at ${settings.redis.displayUrl}: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCodes.RUNTIME;
  } finally {
    redis.disconnect();
  }
}
