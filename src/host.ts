import { BotHostError, ErrorCodes } from "./errors.js";
import type { Config } from "./config/index.js";
import { redactUrl } from "./config/token.js";
import type { Logger } from "./logging/logger.js";
import { loadApp } from "./bots/app-loader.js";
import { createPipeline } from "./bots/pipeline.js";
import { createKeys } from "./storage/keys.js";
import { MemoryStateStore } from "./storage/memory-state-store.js";
import { RedisStateStore } from "./storage/redis-state-store.js";
import type { StateStore } from "./storage/state-store.js";
import { createSharedTransport, type SharedTransport } from "./transport/shared-transport.js";
import { Admission } from "./runtime/admission.js";
import { BotRegistry } from "./bots/registry.js";
import { ConfigWatcher } from "./lifecycle/config-watcher.js";
import { reloadBots, type ReloadReport } from "./lifecycle/reload.js";
import { timed } from "./lifecycle/component.js";
import { HostMetrics } from "./http/metrics.js";
import { HttpServer, type Readiness } from "./http/server.js";
import { createWebhookHandler } from "./http/webhook-handler.js";
import { webhookSecretFor } from "./http/webhook-secret.js";
import type Bottleneck from "bottleneck";
import { createApiLimits, createFloodLimit } from "./transport/limits.js";

/** What `start()` reports: which enabled bots run and which do not (and why). */
export interface StartReport {
  readonly enabled: number;
  readonly running: readonly string[];
  readonly notRunning: ReadonlyArray<{ bot: string; state: string; reason: string | undefined }>;
}

/** Updates that were fetched but not finished when a stop was cut short, per bot. */
export interface CutReport {
  readonly total: number;
  readonly bots: ReadonlyArray<{ bot: string; update_ids: number[] }>;
}

/** Raised by `stop()` when the drain did not finish within `shutdown.drain_timeout`. */
export class DrainTimeoutError extends BotHostError {
  constructor(readonly cut: CutReport, seconds: number) {
    super(
      ErrorCodes.DRAIN_TIMEOUT,
      `drain did not finish within shutdown.drain_timeout (${seconds} s); ${cut.total} update(s) cut off, the next start handles them`,
    );
  }
}

/** Tuning knobs that are not part of bots.yaml. */
export interface HostOptions {
  /** The config file: enables reloads (SIGHUP, `bot-host reload`, and a file watch unless `watchConfig` is false). */
  configPath?: string;
  watchConfig?: boolean;
  /** How long one bot's start may wait for the Bot API before it is reported (ms); default 10 s. */
  startTimeoutMs?: number;
  /** After this long (ms) a webhook request is answered and its update finishes in the background; default 25 s. */
  webhookReplyTimeoutMs?: number;
  /** Told when an update's handling ended (handled or failed): for `bot-host bench`. */
  onHandled?: (botId: string, updateId: number) => void;
}

const START_TIMEOUT_MS = 10_000;
const SPARE_SOCKETS = 64;

/**
 * The composition root: the only place that wires components together.
 *
 * Start order: state store (Redis) -> shared Bot API transport -> HTTP server (health, metrics, webhooks;
 * readiness stays false until the bots are up) -> app and shared pipeline -> bots (in parallel, bounded).
 *
 * Stop order: (1) stop intake on every bot (readiness false, webhook requests get 503), (2) drain what was
 * received, (3) confirm offsets, (4) close the HTTP server and the shared transport, (5) close the state
 * store last (Redis QUIT, after the last write).
 */
export class Host {
  /** The running bots by id. */
  runners!: BotRegistry;
  private readonly log: Logger;
  private store: StateStore | undefined;
  private http: HttpServer | undefined;
  private throttleConnection: Bottleneck.IORedisConnection | undefined;
  /** The host's Prometheus metrics. */
  readonly metrics: HostMetrics;
  private transport: SharedTransport | undefined;
  private starting: Promise<StartReport> | undefined;
  private stopping: Promise<void> | undefined;
  private stopRequested = false;
  private reloading: Promise<unknown> = Promise.resolve();
  private watcher: ConfigWatcher | undefined;
  private current: Config;

  private readonly rootLogger: Logger;

  constructor(
    config: Config,
    logger: Logger,
    private readonly options: HostOptions = {},
  ) {
    this.current = config;
    this.log = logger.child({ component: "host" });
    this.rootLogger = logger;
    this.metrics = new HostMetrics({
      bots: () => (this.runners?.all() ?? []).map((r) => ({ id: r.id, up: r.state === "running", inFlight: r.tracker.size })),
      redisStatus: () => (this.store instanceof RedisStateStore ? this.store.status : undefined),
    });
  }

  /** The config in force: the bots as last reloaded, the rest as at start. */
  get config(): Config {
    return this.current;
  }

  /** The HTTP server's bound address, once started. */
  get httpAddress(): { host: string; port: number } | undefined {
    return this.http?.address;
  }

  /** `/readyz`: ready when every enabled bot runs and no stop began. */
  readiness(): Readiness {
    const bots: Readiness["bots"] = {};
    let allRunning = true;
    for (const r of this.runners?.all() ?? []) {
      bots[r.id] = r.reason === undefined ? { state: r.state } : { state: r.state, reason: r.reason };
      if (r.state !== "running") allRunning = false;
    }
    return { ready: allRunning && this.starting !== undefined && !this.stopRequested, draining: this.stopRequested, bots };
  }

  /** True once a stop began: readiness is false from then on. */
  get draining(): boolean {
    return this.stopRequested;
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
        url: config.redis.url,
        keyPrefix: prefix,
        sessionTtl: config.redis.session_ttl,
        logger: this.rootLogger,
      });
    }
    await this.store.start();
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
      reload: () => this.reload("http"),
      webhook: createWebhookHandler({
        lookup: (id) => {
          const r = this.runners.get(id);
          return r?.config.mode === "webhook" ? r : undefined;
        },
        draining: () => this.stopRequested,
        logger: this.rootLogger,
      }),
    });
    await this.http?.start();
    const app = await loadApp(config.app);
    const apiLimits = createApiLimits(config, prefix);
    this.throttleConnection = apiLimits.connection;
    const shared = {
      apiRoot: config.api_root,
      transport: this.transport,
      store: this.store,
      admission: new Admission(config.polling.global_concurrency),
      pipeline: createPipeline(
        app,
        this.store,
        createKeys(prefix),
        createFloodLimit(config, prefix, this.store instanceof RedisStateStore ? this.store.client : undefined, this.metrics),
      ),
      appConfig: config.app_config,
      polling: config.polling,
      webhook: {
        publicUrl: config.webhook.public_url,
        pathPrefix: config.webhook.path_prefix,
        maxConnections: config.webhook.max_connections,
        replyTimeoutMs: this.options.webhookReplyTimeoutMs ?? 25_000,
      },
      metrics: this.metrics,
      ...(this.options.onHandled === undefined ? {} : { onHandled: this.options.onHandled }),
      limits: apiLimits.limits,
      startTimeoutMs: this.options.startTimeoutMs ?? START_TIMEOUT_MS,
    };
    this.runners = new BotRegistry(shared, this.rootLogger, (bot) => webhookSecretFor(bot, config.webhook.secret));
    const runners = enabled.map((bot) => this.runners.add(bot));
    if (enabled.length === 0) this.log.warn("no enabled bots in the config; the host idles until stopped");
    if (this.options.configPath !== undefined && this.options.watchConfig !== false) {
      this.watcher = new ConfigWatcher({ path: this.options.configPath, logger: this.rootLogger, onChange: () => void this.reload("file watch") });
      await this.watcher.start();
    }
    const t0 = performance.now();
    await this.runners.start(runners, () => this.stopRequested);
    const report = this.report(enabled.length);
    this.log.info(
      { enabled: report.enabled, running: report.running.length, not_running: report.notRunning, ms: Math.round(performance.now() - t0) },
      report.notRunning.length === 0 ? "all bots are up" : `${report.running.length} of ${report.enabled} bots are up`,
    );
    return report;
  }

  private report(enabled: number): StartReport {
    const running: string[] = [];
    const notRunning: Array<{ bot: string; state: string; reason: string | undefined }> = [];
    for (const r of this.runners.all()) {
      if (r.state === "running") running.push(r.id);
      else notRunning.push({ bot: r.id, state: r.state, reason: r.reason });
    }
    return { enabled, running, notRunning };
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
        registry: this.runners,
        drainTimeoutMs: this.current.shutdown.drain_timeout * 1000,
        cancelled: () => this.stopRequested,
        logger: this.log,
        apply: (config) => (this.current = config),
      });
      this.metrics.reloads.inc({ outcome: report.ok ? "applied" : "rejected" });
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
    await this.watcher?.stop();
    const runners = this.runners?.all() ?? [];
    const step = (n: number, name: string, fields: Record<string, unknown>): void =>
      this.log.info({ step: n, ...fields }, `shutdown step ${n}/5: ${name}`);

    let s = await timed(async () => runners.forEach((r) => r.stopIntake()));
    step(1, "stopped intake", { ms: s.ms, bots: runners.length, in_flight: this.cutReport().total });
    // A start still in progress settles quickly once intake is stopped (its signal is aborted).
    await this.starting?.catch(() => undefined);

    const inFlight = this.cutReport().total;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), drainTimeoutMs);
    });
    const drained = await timed(() => Promise.race([Promise.all(runners.map((r) => r.drain())).then(() => "ok" as const), deadline]));
    clearTimeout(timer);
    if (drained.value === "timeout") throw new DrainTimeoutError(this.cutReport(), drainTimeoutMs / 1000);
    step(2, "drained", { ms: drained.ms, updates: inFlight });

    const confirmed = await timed(async () => (await Promise.all(runners.map((r) => r.confirmOffset()))).filter((o) => o !== undefined).length);
    step(3, "confirmed offsets", { ms: confirmed.ms, bots: confirmed.value });

    s = await timed(async () => {
      await Promise.all(runners.map((r) => r.markStopped()));
      await this.http?.stop();
      await this.transport?.stop();
    });
    step(4, "closed the HTTP server and the shared HTTP agent", { ms: s.ms });

    // State goes last: everything above may still write to it (throttle counters, journal commits).
    s = await timed(async () => {
      await this.throttleConnection?.disconnect();
      await this.store?.stop();
    });
    step(5, "closed state", { ms: s.ms, store: this.store?.name ?? "none" });
  }
}
