import { loadConfig, redactUrl, type Config } from "../config/index.js";
import { ExitCodes } from "../errors.js";
import { reportError } from "./print.js";

/**
 * `bot-host migrate-keys`: renames every bot's Redis keys from the layout of earlier versions (no hash tags) to
 * the current one. Run it once, with every instance stopped; it is idempotent and never overwrites a key.
 */
export async function runMigrateKeys(opts: { config: string; dryRun?: boolean }): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(opts.config);
  } catch (err) {
    return reportError(err);
  }
  if (config.redis === undefined) {
    process.stderr.write(`${opts.config}: no Redis configured (redis.url): there are no keys to migrate\n`);
    return ExitCodes.CONFIG;
  }
  if (config.redis.target.kind === "cluster") {
    process.stderr.write(
      `${opts.config}: the key layout before hash tags was only used on one server; migrate there (redis.url), then move the data to the cluster\n`,
    );
    return ExitCodes.CONFIG;
  }
  const [{ createRedisClient }, { migrateLegacyKeys }] = await Promise.all([
    import("../storage/redis-client.js"),
    import("../storage/legacy-keys.js"),
  ]);
  const redis = createRedisClient(config.redis, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    const ids = config.bots.map((b) => b.id);
    const report = await migrateLegacyKeys(redis, config.redis.key_prefix, ids, opts.dryRun === true);
    const verb = opts.dryRun === true ? "would move" : "moved";
    process.stdout.write(
      `${verb} ${report.moved} key(s) of ${ids.length} bot(s) at ${redactUrl(config.redis.url)} to the current layout\n`,
    );
    for (const [oldKey, newKey] of report.conflicts) process.stdout.write(`  left ${oldKey}: ${newKey} already exists\n`);
    return report.conflicts.length > 0 ? ExitCodes.RUNTIME : ExitCodes.OK;
  } catch (err) {
    process.stderr.write(
      `cannot migrate the keys at ${redactUrl(config.redis.url)}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return ExitCodes.RUNTIME;
  } finally {
    redis.disconnect();
  }
}
