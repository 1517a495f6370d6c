import type { Config } from "../config/index.js";
import { resolveSettings, type HostSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import { scrubTokens } from "../logging/scrub.js";
import type { HostMetrics } from "../http/metrics.js";
import { readinessOf, type HostStatus, type Readiness } from "../http/readiness.js";
import type { StartReport } from "../lifecycle/bot-fleet.js";
import { reloadBots, skippedReload, type ReloadReport } from "../lifecycle/reload.js";
import type { CutReport } from "../lifecycle/shutdown-steps.js";
import type { Component } from "../lifecycle/component.js";
import { buildServices, type HostOptions, type Services } from "./services.js";
import { stopServices } from "./shutdown.js";

const STOPPED = Symbol("stopped");

/**
 * A running bot-host: every bot of a bots.yaml on one shared app, one HTTP agent and one state store.
 *
 * The constructor resolves the file into settings and builds every service ({@link buildServices}); nothing is
 * connected until {@link start}, which starts them in this order: storage (Redis, and its key layout) -> the
 * subscription to operators' dead-letter commands (with Redis) -> HTTP server (health, metrics, webhooks;
 * readiness stays false until the bots are up) -> the app module -> the config file watch -> the bots (with
 * leases, this instance's share of them). {@link stop} stops them in reverse (see {@link stopServices}). A stop
 * during the start makes the start give up at its next step.
 */
export class Host {
  /** The host's Prometheus metrics. */
  readonly metrics: HostMetrics;
  private readonly services: Services;
  private readonly log: Logger;
  private current: HostSettings;
  private starting: Promise<StartReport> | undefined;
  private stopping: Promise<void> | undefined;
  private stopRequested = false;
  /** Settles when a stop begins: a start waiting on something slow (Redis, the app module) gives up. */
  private readonly stopBegan: Promise<typeof STOPPED>;
  private beginStop!: () => void;
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(
    config: Config,
    logger: Logger,
    private readonly options: HostOptions = {},
  ) {
    this.current = resolveSettings(config);
    this.log = logger.child({ component: "host" });
    this.stopBegan = new Promise((resolve) => (this.beginStop = () => resolve(STOPPED)));
    this.services = buildServices(this.current, logger, options, {
      settings: () => this.current,
      draining: () => this.stopRequested,
      reload: (trigger) => this.reload(trigger),
    });
    this.metrics = this.services.metrics;
  }

  /** The settings in force: the bots as last reloaded, the rest as at start. */
  get settings(): HostSettings {
    return this.current;
  }

  /** The HTTP server's bound address, once started. */
  get httpAddress(): { host: string; port: number } | undefined {
    return this.services.http?.address;
  }

  /** A read-only snapshot: readiness, the store's health, every bot here and, with leases, this instance's share. */
  status(): HostStatus {
    return this.services.status();
  }

  /** `/readyz`'s body: ready when every enabled bot here runs, the state store takes writes, and no stop began. */
  readiness(): Readiness {
    return readinessOf(this.status());
  }

  /** Starts everything; see the class comment for the order. Rejects only on errors that concern every bot. */
  start(): Promise<StartReport> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<StartReport> {
    const { storage, operatorWatch, http, app, watcher, fleet } = this.services;
    if (this.current.redis === undefined) {
      this.log.warn("no Redis configured: state lives in this process only, is lost on restart and is not shared between processes");
    }
    const parts = ([storage, operatorWatch, http, app, watcher] as Array<Component | undefined>).filter((p) => p !== undefined);
    for (const part of parts) {
      if ((await this.unlessStopped(part.start())) === STOPPED) return fleet.report();
    }
    return fleet.start(() => this.stopRequested);
  }

  /** `step`, unless a stop begins first; a step given up on is left to settle on its own. */
  private unlessStopped<T>(step: Promise<T>): Promise<T | typeof STOPPED> {
    if (this.stopRequested) {
      step.catch(() => undefined);
      return Promise.resolve(STOPPED);
    }
    return Promise.race([step, this.stopBegan]);
  }

  /**
   * Re-reads the config file and applies only the difference in the bot list (see {@link reloadBots}).
   * Reloads run one after another; an invalid file changes nothing. Never rejects.
   */
  reload(trigger: string): Promise<ReloadReport> {
    const next = this.reloading.then(async () => {
      await this.starting?.catch(() => undefined);
      const path = this.options.configPath;
      if (path === undefined || this.stopRequested || this.starting === undefined) return skippedReload(trigger);
      const report = await reloadBots({
        trigger,
        path,
        running: this.current,
        bots: this.services.fleet.reloadable(),
        cancelled: () => this.stopRequested,
        logger: this.log,
        apply: (settings) => (this.current = settings),
      });
      this.metrics.reloaded(report.ok ? "applied" : "rejected");
      return report;
    });
    this.reloading = next;
    return next;
  }

  /**
   * Records an uncaught exception against the updates running now: an update that keeps crashing the process is
   * set aside after `updates.max_attempts` starts, and this is the error its dead letter shows.
   */
  noteCrash(error: unknown): Promise<void> {
    const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
    return this.services.fleet.noteCrash(scrubTokens(`uncaught exception: ${text}`).slice(0, 2_000));
  }

  /** In-flight updates per bot, for the report of a cut-short stop. */
  cutReport(): CutReport {
    return this.services.fleet.cutReport();
  }

  /**
   * Stops in the reverse order of the start (see {@link stopServices}), logging each step with its duration
   * and counts. Rejects with `DrainTimeoutError` when the drain exceeds `drainTimeoutMs` (later steps are
   * skipped: the journal keeps the cut updates for the next start). Idempotent.
   */
  stop(drainTimeoutMs = this.current.shutdown.drainTimeoutMs): Promise<void> {
    this.stopping ??= this.doStop(drainTimeoutMs);
    return this.stopping;
  }

  private async doStop(drainTimeoutMs: number): Promise<void> {
    this.stopRequested = true;
    this.beginStop();
    await stopServices(this.services, this.log, drainTimeoutMs, this.starting);
  }
}
