import type { BotSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import type { BotStatus, BotStop } from "../runtime/bot-runner.js";
import type { BotRegistry } from "../runtime/registry.js";
import type { Ownership } from "./ownership.js";
import { leasedBotSet } from "./leased-bots.js";
import type { BotSet } from "./reload.js";
import type { CutReport } from "./shutdown-steps.js";

/** What a start reports: which enabled bots run and which do not (and why). */
export interface StartReport {
  readonly enabled: number;
  readonly running: readonly string[];
  readonly notRunning: ReadonlyArray<{ bot: string; state: string; reason: string | undefined }>;
  /** With leases: the bots other instances own (this one stands by for them). */
  readonly standby: readonly string[];
}

/** Options of {@link BotFleet}. */
export interface BotFleetOptions {
  registry: BotRegistry;
  /** With leases: this instance's share of the bots, which starts and stops them as it takes and hands over leases. */
  ownership: Ownership | undefined;
  /** The bots of the settings in force. */
  bots: () => readonly BotSettings[];
  logger: Logger;
}

/**
 * Every bot this instance runs, as one part of the host: started together (directly, or with leases through
 * the {@link Ownership} as it takes their leases), stopped together in the shutdown's phases (intake, drain,
 * confirm and release), and changed bot by bot by a reload.
 */
export class BotFleet {
  readonly registry: BotRegistry;
  readonly ownership: Ownership | undefined;
  private readonly log: Logger;
  private started = false;

  constructor(private readonly o: BotFleetOptions) {
    this.registry = o.registry;
    this.ownership = o.ownership;
    this.log = o.logger.child({ component: "host" });
  }

  /** Whether the bots may run yet (until then a webhook request cannot be routed). */
  get isStarted(): boolean {
    return this.started;
  }

  /** Starts every enabled bot (with leases: takes this instance's share); stops picking new ones once `cancelled()`. */
  async start(cancelled: () => boolean): Promise<StartReport> {
    this.started = true;
    const enabled = this.o.bots().filter((b) => b.enabled);
    if (enabled.length === 0) this.log.warn("no enabled bots in the config; the host idles until stopped");
    const t0 = performance.now();
    if (this.ownership !== undefined) await this.ownership.start();
    else
      await this.registry.start(
        enabled.map((b) => this.registry.add(b)),
        cancelled,
      );
    const report = this.report();
    const { standby } = report;
    const summary =
      report.notRunning.length === 0 && standby.length === 0
        ? "all bots are up"
        : standby.length === 0
          ? `${report.running.length} of ${report.enabled} bots are up`
          : `${report.running.length} of ${report.enabled} bots run here, ${standby.length} are owned by other instances (standby here)`;
    const leases = this.ownership === undefined ? {} : { standby, instance: this.ownership.instanceId };
    const ms = Math.round(performance.now() - t0);
    this.log.info({ enabled: report.enabled, running: report.running.length, not_running: report.notRunning, ...leases, ms }, summary);
    return report;
  }

  /** Which enabled bots run here and which do not. */
  report(): StartReport {
    const running: string[] = [];
    const notRunning: Array<{ bot: string; state: string; reason: string | undefined }> = [];
    for (const s of this.registry.statuses()) {
      if (s.state === "running") running.push(s.id);
      else notRunning.push({ bot: s.id, state: s.state, reason: s.problem?.code });
    }
    const enabled = this.o.bots().filter((b) => b.enabled).length;
    return { enabled, running, notRunning, standby: this.ownership?.standbyIds() ?? [] };
  }

  /** A snapshot of every bot running here. */
  statuses(): BotStatus[] {
    return this.registry.statuses();
  }

  /** What a reload changes: the registry, or with leases this instance's share. */
  reloadable(): BotSet {
    return this.ownership === undefined ? this.registry : leasedBotSet(this.registry, this.ownership);
  }

  /** Leaves the live instances (with leases), so the others take each bot as soon as it is released. */
  async leave(): Promise<void> {
    await this.ownership?.leave();
  }

  /** Stops intake on every bot now; each drains within `deadlineMs` (idempotent per bot). */
  stopAll(deadlineMs: number): BotStop[] {
    return this.registry.all().map((r) => r.stop(deadlineMs));
  }

  /** With leases, after every offset was confirmed: releases every lease; returns how many, or undefined without leases. */
  releaseAll(): Promise<number> | undefined {
    return this.ownership?.releaseAll();
  }

  /** Records `error` as the last error known of every update running here (the process is about to stop on it). */
  async noteCrash(error: string): Promise<void> {
    await Promise.all(this.registry.all().map((r) => r.noteError(error)));
  }

  /** In-flight updates per bot, for the report of a cut-short stop. */
  cutReport(): CutReport {
    const bots = this.registry
      .all()
      .map((r) => ({ bot: r.id, update_ids: r.inFlight() }))
      .filter((b) => b.update_ids.length > 0);
    return { total: bots.reduce((n, b) => n + b.update_ids.length, 0), bots };
  }
}
