import { loadConfig } from "../config/index.js";
import { ConfigError, formatIssue } from "../config/errors.js";
import { planReload } from "../config/diff.js";
import type { BotSettings, HostSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";

/**
 * The set of bots a reload changes: the registry itself, or with leases the instance's share of the bots
 * (a removed bot is handed over, an added one is taken by whichever instance has room).
 */
export interface BotSet {
  /** Stops one bot alone (drained within `drainTimeoutMs`, offset confirmed); resolves with the updates cut. */
  remove(id: string, drainTimeoutMs: number): Promise<number>;
  /** Starts (or offers, with leases) the given bots of the new config; resolves with those not running here. */
  startAll(bots: readonly BotSettings[], cancelled: () => boolean): Promise<string[]>;
}

/** The outcome of one reload. */
export interface ReloadReport {
  readonly trigger: string;
  /** `false` when the file was rejected (nothing changed) or the reload was skipped. */
  readonly ok: boolean;
  readonly skipped?: boolean;
  /** The problems of a rejected file, formatted as `check` prints them. */
  readonly issues: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly restarted: readonly string[];
  readonly unchanged: readonly string[];
  /** Top-level settings that changed but need a restart; ignored until then. */
  readonly needsRestart: readonly string[];
}

/** Options of {@link reloadBots}. */
export interface ReloadOptions {
  trigger: string;
  path: string;
  running: HostSettings;
  bots: BotSet;
  cancelled: () => boolean;
  logger: Logger;
  /** Records the settings now in force. */
  apply: (settings: HostSettings) => void;
}

/** The report of a reload that did not run (the host is not started yet, or stopping, or has no config file). */
export function skippedReload(trigger: string): ReloadReport {
  return { trigger, ok: false, skipped: true, issues: [], added: [], removed: [], restarted: [], unchanged: [], needsRestart: [] };
}

/**
 * Validates the file as `start` does, then applies only the difference: removed or disabled bots stop alone
 * (drained, offsets confirmed), new ones start, bots whose own settings changed restart alone, and every
 * other bot is not touched. Top-level settings cannot change live: they are reported and ignored.
 */
export async function reloadBots(o: ReloadOptions): Promise<ReloadReport> {
  const empty = { added: [], removed: [], restarted: [], unchanged: [], needsRestart: [] };
  let plan: ReturnType<typeof planReload>;
  try {
    plan = planReload(o.running, await loadConfig(o.path));
  } catch (err) {
    const issues = err instanceof ConfigError ? err.issues.map(formatIssue) : [err instanceof Error ? err.message : String(err)];
    o.logger.error({ trigger: o.trigger, issues }, `config reload rejected, still running the previous config:\n${issues.join("\n")}`);
    return { trigger: o.trigger, ok: false, issues, ...empty };
  }
  const { diff } = plan;
  const restarted = diff.changed.map((b) => b.id);
  const drainTimeoutMs = o.running.shutdown.drainTimeoutMs;
  await Promise.all([...diff.removed, ...restarted].map((id) => o.bots.remove(id, drainTimeoutMs)));
  o.apply(plan.settings);
  const notRunning = await o.bots.startAll([...diff.added, ...diff.changed], o.cancelled);
  const report: ReloadReport = {
    trigger: o.trigger,
    ok: true,
    issues: [],
    added: diff.added.map((b) => b.id),
    removed: [...diff.removed],
    restarted,
    unchanged: [...diff.unchanged],
    needsRestart: [...diff.needsRestart],
  };
  o.logger.info(
    {
      trigger: o.trigger,
      added: report.added,
      removed: report.removed,
      restarted: report.restarted,
      unchanged: report.unchanged.length,
      needs_restart: report.needsRestart,
      not_running: notRunning,
    },
    report.needsRestart.length > 0
      ? `config reloaded; ${report.needsRestart.join(", ")} changed but only take effect after a restart`
      : "config reloaded",
  );
  return report;
}
