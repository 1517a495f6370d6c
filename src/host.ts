import { DrainTimeoutError, ShutdownFailedError, ShutdownSteps, type CutReport } from "./lifecycle/shutdown-steps.js";
import type { Config } from "./config/index.js";
import { redactUrl } from "./config/token.js";
import type { Logger } from "./logging/logger.js";
import { loadApp } from "./runtime/app-loader.js";
import { createPipeline, floodLimitOf } from "./runtime/pipeline.js";
import { createKeys } from "./storage/keys.js";
import { MemoryStateStore } from "./storage/memory-state-store.js";
import { RedisStateStore } from "./storage/redis-state-store.js";
import type { StateStore } from "./storage/state-store.js";
import { createSharedTransport, type SharedTransport } from "./transport/shared-transport.js";
import { Admission } from "./runtime/admission.js";
import { BotRegistry } from "./runtime/registry.js";
import type { BotStop } from "./runtime/bot-runner.js";
import { observeBoth, type RuntimeObserver } from "./runtime/observer.js";
import { ConfigWatcher } from "./lifecycle/config-watcher.js";
import { reloadBots, type ReloadReport } from "./lifecycle/reload.js";
import { HostMetrics } from "./http/metrics.js";
import { HttpServer, type Readiness } from "./http/server.js";
import { createWebhookHandler, type WebhookTarget } from "./http/webhook-handler.js";
import { advertisedUrl, forwardingTarget } from "./http/webhook-forward.js";
import { resolveBot } from "./config/bot-settings.js";
import { createApiLimits } from "./transport/limits.js";
import type { Ownership } from "./lifecycle/ownership.js";
import { createOwnership, isLeased, leasedBotSet } from "./lifecycle/leased-bots.js";

/** What `start()` reports: which enabled bots run and which do not (and why). */
export interface StartReport {
  readonly enabled: number;
  readonly running: readonly string[];
  readonly notRunning: ReadonlyArray<{ bot: string; state: string; reason: string | undefined }>;
  /** With leases: the bots other instances own (this one stands by for them). */
  readonly standby: readonly string[];
}

export { DrainTimeoutError, ShutdownFailedError, type CutReport };

/** Tuning knobs that are not part of bots.yaml. */
export interface HostOptions {
  /** The config file: enables reloads (SIGHUP, `bot-host reload`, and a file watch unless `watchConfig` is false). */
  configPath?: string;
  watchConfig?: boolean;
  /** How long one bot's start may wait for the Bot API before it is reported (ms); default 10 s. */
  startTimeoutMs?: number;
  /** After this long (ms) a webhook request is answered and its update finishes in the background; default 25 s. */
  webhookReplyTimeoutMs?: number;
  /** Told what the runtime reports, besides the host's own metrics (`bot-host bench` counts handled updates). */
  observer?: Partial<RuntimeObserver>;
}

const START_TIMEOUT_MS = 10_000;
const STOPPED = Symbol("stopped");
const SPARE_SOCKETS = 64;

/**
 * The composition root: the only place that wires components together.
 *
 * Start order: state store (Redis) -> shared Bot API transport -> HTTP server (health, metrics, webhooks;
 * readiness stays false until the bots are up) -> app and shared pipeline -> bots (in parallel, bounded).
 *
 * With leases (Redis configured), the bots are started by this instance's `Ownership` as it takes
 * their leases, and stopped by it when it hands them over.
 *
 * Stop order: (1) leave the live instances and stop intake on every bot (readiness false, webhook requests get
 * 503), (2) drain what was received, (3) confirm offsets, then release the leases, (4) close the HTTP server
 * and the shared transport, (5) close the state store last (Redis QUIT, after the last write).
 */
export class Host {
  /** The running bots by id. */
  runners!: BotRegistry;
  private readonly log: Logger;
  private store: StateStore | undefined;
  private http: HttpServer | undefined;
  /** The host's Prometheus metrics. */
  readonly metrics: HostMetrics;
  private readonly observer: RuntimeObserver;
  private transport: SharedTransport | undefined;
  private starting: Promise<StartReport> | undefined;
  private stopping: Promise<void> | undefined;
  private stopRequested = false;
  /** Settles when a stop begins: a start waiting on something slow (Redis, the app module) gives up. */
  private readonly stopBegan: Promise<typeof STOPPED>;
  private beginStop!: () => void;
  private reloading: Promise<unknown> = Promise.resolve();
  private watcher: ConfigWatcher | undefined;
  private current: Config;
  /** This instance's share of the leased bots (polling bots, when leases are on). */
  private ownership: Ownership | undefined;

  private readonly rootLogger: Logger;

  constructor(
    config: Config,
    logger: Logger,
    private readonly options: HostOptions = {},
  ) {
    this.current = config;
    this.stopBegan = new Promise((resolve) => (this.beginStop = () => resolve(STOPPED)));
    this.log = logger.child({ component: "host" });
    this.rootLogger = logger;
    this.metrics = new HostMetrics({
      bots: () => (this.runners?.all() ?? []).map((r) => ({ id: r.id, up: r.state === "running", inFlight: r.tracker.size })),
      redisConnected: () => (this.store?.durable === true ? this.store.health().ok : undefined),
      ownedBots: () => this.ownership?.ownedIds().length,
    });
    this.observer = options.observer === undefined ? this.metrics : observeBoth(this.metrics, options.observer);
  }

  /** The config in force: the bots as last reloaded, the rest as at start. */
  get config(): Config {
    return this.current;
  }

  /** The HTTP server's bound address, once started. */
  get httpAddress(): { host: string; port: number } | undefined {
    return this.http?.address;
  }

  /** `/readyz`: ready when every enabled bot runs, the state store takes writes, and no stop began. */
  readiness(): Readiness {
    const bots: Readiness["bots"] = {};
    let allRunning = this.runners !== undefined;
    for (const r of this.runners?.all() ?? []) {
      bots[r.id] = r.reason === undefined ? { state: r.state } : { state: r.state, reason: r.reason };
      if (r.state !== "running") allRunning = false;
    }
    const health = this.store?.health() ?? { ok: false, reason: "not started" };
    const store = { name: this.store?.name ?? "none", ...health };
    const ready = allRunning && health.ok && !this.stopRequested;
    const { ownership } = this;
    if (ownership === undefined) return { ready, draining: this.stopRequested, store, bots };
    const leases = { instance: ownership.instanceId, owned: ownership.ownedIds(), standby: ownership.standbyIds() };
    return { ready, draining: this.stopRequested, store, bots, leases };
  }

  /** Starts everything; see the class comment for the order. Rejects only on errors that concern every bot. */
  start(): Promise<StartReport> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<StartReport> {
    const { config } = this;
    const enabled = config.bots.filter((b) => b.enabled);
    const prefix = config.redis?.key_prefix ?? "bot-host:";
    if (config.redis === undefined) {
      this.log.warn("no Redis configured: state lives in this process only, is lost on restart and is not shared between processes");
      this.store = new MemoryStateStore();
    } else {
      this.store = new RedisStateStore({
        connection: config.redis,
        url: config.redis.url,
        keyPrefix: prefix,
        sessionTtl: config.redis.session_ttl,
        minReplicas: config.redis.min_replicas,
        logger: this.rootLogger,
      });
    }
    if ((await this.unlessStopped(this.store.start())) === STOPPED) return this.report(enabled.length);
    if (this.store instanceof RedisStateStore) await this.store.checkKeyLayout(config.bots.map((b) => b.id));
    if (config.redis !== undefined) this.log.info({ url: redactUrl(config.redis.url) }, "connected to Redis");
    const polling = enabled.filter((b) => b.mode === "polling").length;
    const connections = config.http.max_sockets > 0 ? config.http.max_sockets : polling + SPARE_SOCKETS;
    this.transport = createSharedTransport({ connections });
    const listen = config.http.listen;
    if (listen !== false) this.http = new HttpServer({
      listen,
      logger: this.rootLogger,
      metrics: this.metrics,
      readiness: () => this.readiness(),
      webhookPrefix: config.webhook.path_prefix,
      draining: () => this.stopRequested,
      reload: () => this.reload("http"),
      webhook: createWebhookHandler({
        lookup: (id) => this.webhookTarget(id),
        draining: () => this.stopRequested,
        // Until the bots exist a request cannot be routed: 503, and Telegram delivers it again.
        routable: () => this.runners !== undefined,
        logger: this.rootLogger,
      }),
    });
    await this.http?.start();
    const app = await this.unlessStopped(loadApp(config.app));
    if (app === STOPPED) return this.report(enabled.length);
    const keys = createKeys(prefix);
    const { outgoing, incoming } = config.limits;
    const throttleRedis = outgoing.enabled ? this.store.connection("throttle") : undefined;
    const limits = createApiLimits(config, throttleRedis && { redis: throttleRedis, key: (bot) => keys.throttle(bot) });
    const shared = {
      apiRoot: config.api_root,
      transport: this.transport,
      store: this.store,
      admission: new Admission(config.polling.global_concurrency),
      pipeline: createPipeline(
        app,
        this.store,
        keys,
        floodLimitOf(incoming, incoming.enabled ? this.store.connection("flood") : undefined, (bot) => this.observer.floodLimited(bot)),
      ),
      appConfig: config.app_config,
      webhookReplyTimeoutMs: this.options.webhookReplyTimeoutMs ?? 25_000,
      observer: this.observer,
      limits,
      startTimeoutMs: this.options.startTimeoutMs ?? START_TIMEOUT_MS,
    };
    this.runners = new BotRegistry(shared, this.rootLogger, (bot) => resolveBot(config, bot));
    // With leases, polling bots run on whichever instance holds their lease; webhook bots run on every instance.
    const runners = enabled.filter((bot) => !isLeased(config, bot)).map((bot) => this.runners.add(bot));
    if (config.leases.enabled && this.store instanceof RedisStateStore) {
      const url = (): string | undefined => advertisedUrl(this.http?.address, config.http.advertise_url);
      const o = { config, store: this.store, keys, registry: this.runners, current: () => this.current, logger: this.rootLogger, observer: this.observer, url };
      this.ownership = createOwnership(o);
    }
    if (enabled.length === 0) this.log.warn("no enabled bots in the config; the host idles until stopped");
    if (this.options.configPath !== undefined && this.options.watchConfig !== false) {
      this.watcher = new ConfigWatcher({ path: this.options.configPath, logger: this.rootLogger, onChange: () => void this.reload("file watch") });
      await this.watcher.start();
    }
    const t0 = performance.now();
    await Promise.all([this.runners.start(runners, () => this.stopRequested), this.ownership?.start()]);
    const report = this.report(enabled.length);
    const ms = Math.round(performance.now() - t0);
    const { standby } = report;
    const summary =
      report.notRunning.length === 0 && standby.length === 0
        ? "all bots are up"
        : standby.length === 0
          ? `${report.running.length} of ${report.enabled} bots are up`
          : `${report.running.length} of ${report.enabled} bots run here, ${standby.length} are owned by other instances (standby here)`;
    const leases = this.ownership === undefined ? {} : { standby, instance: this.ownership.instanceId };
    this.log.info({ enabled: report.enabled, running: report.running.length, not_running: report.notRunning, ...leases, ms }, summary);
    return report;
  }

  /** Where a webhook request for `id` goes: the bot's runner here, or with leases the instance that owns it. */
  private webhookTarget(id: string): WebhookTarget | undefined {
    const r = this.runners?.get(id);
    if (r !== undefined) return r.settings.mode === "webhook" ? r : undefined;
    const { ownership, current } = this;
    const bot = current.bots.find((b) => b.id === id);
    if (ownership === undefined || bot === undefined || bot.mode !== "webhook" || !isLeased(current, bot)) return undefined;
    const forward = { ownerUrl: (botId: string) => ownership.ownerUrl(botId), pathPrefix: current.webhook.path_prefix, logger: this.rootLogger };
    return forwardingTarget(id, resolveBot(current, bot).webhook.secret, { ...forward, timeoutMs: (this.options.webhookReplyTimeoutMs ?? 25_000) + 5_000 });
  }

  /** `step`, unless a stop begins first; a step given up on is left to settle on its own. */
  private unlessStopped<T>(step: Promise<T>): Promise<T | typeof STOPPED> {
    if (this.stopRequested) {
      step.catch(() => undefined);
      return Promise.resolve(STOPPED);
    }
    return Promise.race([step, this.stopBegan]);
  }

  private report(enabled: number): StartReport {
    const running: string[] = [];
    const notRunning: Array<{ bot: string; state: string; reason: string | undefined }> = [];
    for (const r of this.runners?.all() ?? []) {
      if (r.state === "running") running.push(r.id);
      else notRunning.push({ bot: r.id, state: r.state, reason: r.reason });
    }
    return { enabled, running, notRunning, standby: this.ownership?.standbyIds() ?? [] };
  }

  /**
   * Re-reads the config file and applies only the difference in the bot list (see {@link reloadBots}).
   * Reloads run one after another; an invalid file changes nothing. Never rejects.
   */
  reload(trigger: string): Promise<ReloadReport> {
    const next = this.reloading.then(async () => {
      await this.starting?.catch(() => undefined);
      if (this.options.configPath === undefined || this.stopRequested || this.starting === undefined) {
        return { trigger, ok: false, skipped: true, issues: [], added: [], removed: [], restarted: [], unchanged: [], needsRestart: [] };
      }
      const report = await reloadBots({
        trigger,
        path: this.options.configPath,
        running: this.current,
        registry: this.ownership === undefined ? this.runners : leasedBotSet(this.runners, this.ownership),
        drainTimeoutMs: this.current.shutdown.drain_timeout * 1000,
        cancelled: () => this.stopRequested,
        logger: this.log,
        apply: (config) => (this.current = config),
      });
      this.metrics.reloaded(report.ok ? "applied" : "rejected");
      return report;
    });
    this.reloading = next;
    return next;
  }

  /** In-flight updates per bot, for the report of a cut-short stop. */
  cutReport(): CutReport {
    const bots = (this.runners?.all() ?? [])
      .map((r) => ({ bot: r.id, update_ids: r.tracker.snapshot() }))
      .filter((b) => b.update_ids.length > 0);
    return { total: bots.reduce((n, b) => n + b.update_ids.length, 0), bots };
  }

  /**
   * Stops in the fixed order of the class comment, logging each step with its duration and counts.
   * Rejects with {@link DrainTimeoutError} when the drain exceeds `drainTimeoutMs` (later steps are skipped:
   * the journal keeps the cut updates for the next start). Idempotent.
   */
  stop(drainTimeoutMs = this.config.shutdown.drain_timeout * 1000): Promise<void> {
    this.stopping ??= this.doStop(drainTimeoutMs);
    return this.stopping;
  }

  private async doStop(drainTimeoutMs: number): Promise<void> {
    this.stopRequested = true;
    this.beginStop();
    const steps = new ShutdownSteps(this.log, 5);
    let stops: BotStop[] = [];
    await steps.run(1, "stop intake", "stopped intake", async () => {
      // Leave the live instances first, so the others take each bot as soon as it is released below.
      await this.ownership?.leave();
      const stopAll = (): BotStop[] => (this.runners?.all() ?? []).map((r) => r.stop(drainTimeoutMs));
      stops = stopAll();
      // A start still in progress settles quickly once intake is stopped (its signal is aborted); bots it
      // created meanwhile are stopped too (a stop is idempotent).
      await this.starting?.catch(() => undefined);
      stops = stopAll();
      await this.watcher?.stop();
      return { bots: stops.length, in_flight: this.cutReport().total };
    });

    const inFlight = this.cutReport().total;
    const t0 = performance.now();
    const complete = (await Promise.all(stops.map((s) => s.drained))).every(Boolean);
    if (!complete) {
      const cut = this.cutReport();
      await Promise.all(stops.map((s) => s.done));
      throw new DrainTimeoutError(cut, drainTimeoutMs / 1000);
    }
    this.log.info({ step: 2, ms: Math.round(performance.now() - t0), updates: inFlight }, "shutdown step 2/5: drained");

    await steps.run(3, "confirm offsets", "confirmed offsets", async () => {
      const confirmed = (await Promise.all(stops.map((s) => s.done))).filter((r) => r.offset !== undefined).length;
      // Only now, with every offset confirmed, may another instance take the bots.
      const released = await this.ownership?.releaseAll();
      return released === undefined ? { bots: confirmed } : { bots: confirmed, leases_released: released };
    });
    await steps.run(4, "close the HTTP server and the shared HTTP agent", "closed the HTTP server and the shared HTTP agent", async () => {
      await Promise.all([this.http?.stop(), this.transport?.stop()]);
      return {};
    });
    // State goes last: everything above may still write to it (throttle counters, journal commits).
    await steps.run(5, "close state", "closed state", async () => {
      await this.store?.stop();
      return { store: this.store?.name ?? "none" };
    });
    steps.finish();
  }
}
