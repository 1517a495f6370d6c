import type { BotSettings, HostSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import { HostMetrics } from "../http/metrics.js";
import { hostStatus, type HostStatus } from "../http/readiness.js";
import { HttpServer } from "../http/server.js";
import { advertisedUrl } from "../http/webhook-forward.js";
import { createWebhookHandler } from "../http/webhook-handler.js";
import { createWebhookRouter } from "../http/webhook-router.js";
import { BotFleet } from "../lifecycle/bot-fleet.js";
import { ConfigWatcher } from "../lifecycle/config-watcher.js";
import { OperatorWatch } from "../lifecycle/operator-watch.js";
import { createOwnership } from "../lifecycle/leased-bots.js";
import { BotApiReachability } from "../lifecycle/reachability.js";
import { instanceName, newInstanceId } from "../lifecycle/instance-id.js";
import { Admission } from "../runtime/admission.js";
import { AppModule } from "../runtime/app-loader.js";
import { observeBoth, type RuntimeObserver } from "../runtime/observer.js";
import { createPipeline, type FloodLimit } from "../runtime/pipeline.js";
import { BotRegistry } from "../runtime/registry.js";
import { OperatorChannel } from "../storage/operator-channel.js";
import { createStorage, type Storage } from "../storage/storage.js";
import { createSharedTransport, type SharedTransport } from "../transport/shared-transport.js";

/** Bots starting at once (see `BotRunnerShared.starting`). */
const STARTS_AT_ONCE = 64;

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

/** What the services ask of the host that owns them. */
export interface HostHooks {
  /** The settings in force (a reload changes the bots). */
  settings(): HostSettings;
  /** True once a stop began. */
  draining(): boolean;
  /** Re-reads the config file (`POST /-/reload`, the file watch). */
  reload(trigger: string): Promise<{ ok: boolean; skipped?: boolean }>;
}

/** Every part of a host, built and wired before anything starts: nothing here is undefined after the build. */
export interface Services {
  readonly storage: Storage;
  readonly transport: SharedTransport;
  readonly metrics: HostMetrics;
  readonly http: HttpServer | undefined;
  readonly app: AppModule;
  readonly fleet: BotFleet;
  readonly watcher: ConfigWatcher | undefined;
  /** With Redis: acts on operators' dead-letter commands (`bot-host dead-letters retry|drop`). */
  readonly operatorWatch: OperatorWatch | undefined;
  /** The host's status now (for `/readyz` and `Host.status()`). */
  status(): HostStatus;
}

const START_TIMEOUT_MS = 10_000;
const WEBHOOK_REPLY_TIMEOUT_MS = 25_000;

/**
 * Builds every service of a host from its settings, wired to each other, without any I/O: Redis is connected,
 * the server listens, the app is loaded and the bots start only when the host starts them, in its order.
 */
export function buildServices(settings: HostSettings, logger: Logger, options: HostOptions, hooks: HostHooks): Services {
  const name = instanceName(settings.leases.instance);
  const instance = { name, id: newInstanceId(name) };
  const storage = createStorage({
    redis: settings.redis,
    keyPrefix: settings.keyPrefix,
    botIds: settings.bots.map((b) => b.id),
    clientName: `bot-host/${instance.id}`,
    logger,
  });
  const { keys } = storage;
  const transport = createSharedTransport({ connections: settings.http.maxSockets });
  const metrics: HostMetrics = new HostMetrics({
    bots: () =>
      fleet
        .statuses()
        .map((s) => ({ id: s.id, up: s.state === "running", inFlight: s.inFlight, deadLetters: s.deadLetters, audience: s.audience })),
    redisConnected: () => (storage.durable ? storage.health().ok : undefined),
    ownedBots: () => fleet.ownership?.ownedIds().length,
    botApiReachable: () => (fleet.ownership === undefined ? undefined : !fleet.ownership.reachabilityView().cutOff),
  });
  // With leases, every call's outcome also tells whether this instance reaches the Bot API (see reachability.ts).
  const reachability = settings.leases.enabled ? new BotApiReachability(2 * settings.leases.ttlMs) : undefined;
  const withReach: RuntimeObserver = reachability === undefined ? metrics : observeBoth(metrics, reachability);
  const observer: RuntimeObserver = options.observer === undefined ? withReach : observeBoth(withReach, options.observer);
  const app = new AppModule(settings.app);
  const flood: FloodLimit = { redis: () => storage.redis?.dedicated("flood"), onLimited: (bot) => observer.floodLimited(bot) };
  const throttled = settings.bots.some((b) => b.limits.outgoing !== undefined);
  const registry: BotRegistry = new BotRegistry(
    {
      transport,
      journal: storage.journal,
      deadLetters: storage.deadLetters,
      campaigns: storage.campaigns,
      botInfo: storage.botInfo,
      admission: new Admission(settings.globalConcurrency),
      starting: new Admission(STARTS_AT_ONCE),
      pipeline: createPipeline({
        app: app.middleware,
        state: storage.state,
        journal: storage.journal,
        keys,
        updates: settings.updates,
        stateExpires: (settings.redis?.stateTtlMs ?? 0) > 0,
        flood,
      }),
      observer,
      sendWindow:
        throttled && storage.redis !== undefined
          ? { redis: storage.redis.dedicated("throttle"), key: (bot) => keys.throttle(bot) }
          : undefined,
      webhookReplyTimeoutMs: options.webhookReplyTimeoutMs ?? WEBHOOK_REPLY_TIMEOUT_MS,
      startTimeoutMs: options.startTimeoutMs ?? START_TIMEOUT_MS,
    },
    logger,
  );
  const bots = (): readonly BotSettings[] => hooks.settings().bots;
  let http: HttpServer | undefined;
  const ownership =
    reachability !== undefined && storage.redis !== undefined
      ? createOwnership({
          settings,
          redis: storage.redis,
          keys,
          registry,
          wanted: () => bots().filter((b) => b.enabled),
          logger,
          observer,
          url: () => advertisedUrl(http?.address, settings.http.advertiseUrl),
          instance,
          reachability,
          probe: () => probeBotApi(bots(), transport),
        })
      : undefined;
  const fleet: BotFleet = new BotFleet({ registry, ownership, bots, logger });
  const status = (): HostStatus =>
    hostStatus({
      bots: () => (fleet.isStarted ? fleet.statuses() : undefined),
      store: { name: storage.name, health: () => storage.health() },
      draining: hooks.draining,
      leases: ownership,
    });
  if (settings.http.listen !== false) {
    http = new HttpServer({
      listen: settings.http.listen,
      logger,
      metrics,
      status,
      webhookPrefix: settings.webhookPathPrefix,
      draining: hooks.draining,
      reload: () => hooks.reload("http"),
      webhook: createWebhookHandler({
        lookup: createWebhookRouter({
          registry,
          bots,
          owners: ownership,
          pathPrefix: settings.webhookPathPrefix,
          forwardTimeoutMs: (options.webhookReplyTimeoutMs ?? WEBHOOK_REPLY_TIMEOUT_MS) + 5_000,
          logger,
        }),
        draining: hooks.draining,
        // Until the bots can start a request cannot be routed: 503, and Telegram delivers it again.
        routable: () => fleet.isStarted,
        logger,
      }),
    });
  }
  const watcher =
    options.configPath !== undefined && options.watchConfig !== false
      ? new ConfigWatcher({ path: options.configPath, logger, onChange: () => void hooks.reload("file watch") })
      : undefined;
  const operatorWatch =
    storage.redis === undefined
      ? undefined
      : new OperatorWatch({
          channel: new OperatorChannel({ redis: storage.redis.client, subscriber: storage.redis.dedicated("events"), keys }),
          registry,
          logger,
        });
  return { storage, transport, metrics, http, app, fleet, watcher, operatorWatch, status };
}

/** One `getMe` of the first enabled bot through the shared transport: `true` when Telegram answered (any code below 500). */
async function probeBotApi(bots: readonly BotSettings[], transport: SharedTransport): Promise<boolean> {
  const bot = bots.find((b) => b.enabled);
  if (bot === undefined) return true;
  try {
    const res = await transport.fetch(`${bot.apiRoot}/bot${bot.token}/getMe`, { method: "POST", signal: AbortSignal.timeout(5_000) });
    await res.json();
    return res.status < 500;
  } catch {
    return false;
  }
}
