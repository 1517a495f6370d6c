import { isDeepStrictEqual } from "node:util";
import type { BotConfig, Config } from "./load.js";

/** What a reload changes. */
export interface ConfigDiff {
  /** Enabled bots that were not running before (new, or newly enabled). */
  readonly added: readonly BotConfig[];
  /** Ids of running bots that are gone or disabled now. */
  readonly removed: readonly string[];
  /** Bots whose own settings (token, mode, allowed_updates, ...) changed: restarted alone. */
  readonly changed: readonly BotConfig[];
  readonly unchanged: readonly string[];
  /** Top-level settings that differ but only take effect after a restart (redis, http, polling, ...). */
  readonly needsRestart: readonly string[];
}

/**
 * Compares the running config with a new one. Only the bot list applies live; every other top-level key
 * that differs is reported in `needsRestart` and otherwise ignored.
 */
export function diffConfig(running: Config, next: Config): ConfigDiff {
  const before = new Map(running.bots.filter((b) => b.enabled).map((b) => [b.id, b]));
  const after = new Map(next.bots.filter((b) => b.enabled).map((b) => [b.id, b]));
  const added: BotConfig[] = [];
  const changed: BotConfig[] = [];
  const unchanged: string[] = [];
  for (const [id, bot] of after) {
    const old = before.get(id);
    if (old === undefined) added.push(bot);
    else if (isDeepStrictEqual(old, bot)) unchanged.push(id);
    else changed.push(bot);
  }
  const removed = [...before.keys()].filter((id) => !after.has(id));
  const needsRestart = (Object.keys(next) as Array<keyof Config>).filter(
    (key) => key !== "bots" && !isDeepStrictEqual(running[key], next[key]),
  );
  return { added, removed, changed, unchanged, needsRestart };
}
