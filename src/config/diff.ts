import { isDeepStrictEqual } from "node:util";
import type { Config } from "./load.js";
import { resolveSettings, type BotSettings, type HostSettings } from "./settings.js";

/** What a reload changes, in settings: the bots to start are resolved as they will run. */
export interface ReloadDiff {
  /** Enabled bots that were not running before (new, or newly enabled). */
  readonly added: readonly BotSettings[];
  /** Ids of running bots that are gone or disabled now. */
  readonly removed: readonly string[];
  /** Bots whose own entry (token, mode, allowed_updates, ...) changed: restarted alone. */
  readonly changed: readonly BotSettings[];
  readonly unchanged: readonly string[];
  /** Top-level keys of the file that differ but only take effect after a restart (redis, http, polling, ...). */
  readonly needsRestart: readonly string[];
}

/**
 * What reloading `next` over the running settings does. Only the bot list applies live: the settings in force
 * afterwards are the running top level with the new file's bots, and every other top-level key that differs
 * is reported in `needsRestart` and otherwise ignored.
 */
export function planReload(running: HostSettings, next: Config): { settings: HostSettings; diff: ReloadDiff } {
  const was = running.source;
  const settings = resolveSettings(Object.freeze({ ...was, bots: next.bots }));
  const resolved = new Map(settings.bots.map((b) => [b.id, b]));
  const before = new Map(was.bots.filter((b) => b.enabled).map((b) => [b.id, b]));
  const added: BotSettings[] = [];
  const changed: BotSettings[] = [];
  const unchanged: string[] = [];
  for (const bot of next.bots) {
    if (!bot.enabled) continue;
    const old = before.get(bot.id);
    if (old === undefined) added.push(resolved.get(bot.id)!);
    else if (isDeepStrictEqual(old, bot)) unchanged.push(bot.id);
    else changed.push(resolved.get(bot.id)!);
  }
  const enabledNow = new Set(next.bots.filter((b) => b.enabled).map((b) => b.id));
  const removed = [...before.keys()].filter((id) => !enabledNow.has(id));
  const needsRestart = (Object.keys(next) as Array<keyof Config>).filter(
    (key) => key !== "bots" && !isDeepStrictEqual(was[key], next[key]),
  );
  // The HTTP pool was sized at start: the count of polling bots does not resize it.
  return { settings: Object.freeze({ ...settings, http: running.http }), diff: { added, removed, changed, unchanged, needsRestart } };
}
