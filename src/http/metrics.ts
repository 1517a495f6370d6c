import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { LeaseEventKind, RuntimeObserver } from "../runtime/observer.js";

/** What the metrics read on every scrape (kept as callbacks so nothing is counted twice). */
export interface MetricsSources {
  /** Per bot: state, updates in flight, dead letters (set-aside updates) waiting for an operator, audience size. */
  bots(): Iterable<{ id: string; up: boolean; inFlight: number; deadLetters: number; audience: number }>;
  /** Whether Redis takes writes; undefined without Redis. */
  redisConnected(): boolean | undefined;
  /** How many bots this instance owns by lease; undefined when leases are off. */
  ownedBots?(): number | undefined;
  /** With leases: whether this instance reaches the Bot API (false: it hands its bots to instances that do). */
  botApiReachable?(): boolean | undefined;
}

/**
 * The host's Prometheus metrics, in a registry of its own (no global state), plus Node's process metrics. It is
 * the runtime's observer: what the runtime reports becomes counters here.
 */
export class HostMetrics implements RuntimeObserver {
  readonly registry = new Registry();
  private readonly updatesReceived: Counter<"bot" | "type">;
  private readonly updatesHandled: Counter<"bot" | "type" | "outcome">;
  private readonly handlerDuration: Histogram<"bot">;
  private readonly apiCalls: Counter<"bot" | "method">;
  private readonly apiErrors: Counter<"bot" | "method" | "code">;
  private readonly reloads: Counter<"outcome">;
  private readonly apiRetries: Counter<"bot" | "method" | "reason">;
  private readonly apiRetryWait: Counter<"bot" | "method">;
  private readonly throttledCalls: Counter<"bot" | "method">;
  private readonly throttleWait: Counter<"bot" | "method">;
  private readonly floodLimits: Counter<"bot">;
  private readonly deadLetters: Counter<"bot" | "reason">;
  private readonly broadcastMessages: Counter<"bot" | "campaign" | "outcome">;
  private readonly leaseEvents: Counter<"bot" | "event">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "bot_host_" });
    this.updatesReceived = new Counter({
      name: "bot_host_updates_received_total",
      help: "Updates accepted for handling, by bot and update type",
      labelNames: ["bot", "type"],
      registers,
    });
    this.updatesHandled = new Counter({
      name: "bot_host_updates_handled_total",
      help: "Updates whose handler finished, by bot, update type and outcome (ok or error)",
      labelNames: ["bot", "type", "outcome"],
      registers,
    });
    this.handlerDuration = new Histogram({
      name: "bot_host_handler_duration_seconds",
      help: "Time from the start of an update's handling (including waiting for its chat's turn) to its end",
      labelNames: ["bot"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.apiCalls = new Counter({
      name: "bot_host_api_calls_total",
      help: "Bot API calls, by bot and method",
      labelNames: ["bot", "method"],
      registers,
    });
    this.apiErrors = new Counter({
      name: "bot_host_api_errors_total",
      help: "Failed Bot API calls, by bot, method and error code (Telegram's error_code, or 'network')",
      labelNames: ["bot", "method", "code"],
      registers,
    });
    this.reloads = new Counter({
      name: "bot_host_config_reloads_total",
      help: "Config reloads, by outcome (applied or rejected)",
      labelNames: ["outcome"],
      registers,
    });
    this.apiRetries = new Counter({
      name: "bot_host_api_retries_total",
      help: "Bot API calls retried, by bot, method and reason (429, 5xx, network)",
      labelNames: ["bot", "method", "reason"],
      registers,
    });
    this.apiRetryWait = new Counter({
      name: "bot_host_api_retry_wait_seconds_total",
      help: "Time spent waiting before retries, by bot and method",
      labelNames: ["bot", "method"],
      registers,
    });
    this.throttledCalls = new Counter({
      name: "bot_host_throttled_calls_total",
      help: "Bot API calls that waited for the outgoing rate limit, by bot and method",
      labelNames: ["bot", "method"],
      registers,
    });
    this.throttleWait = new Counter({
      name: "bot_host_throttle_wait_seconds_total",
      help: "Time calls waited for the outgoing rate limit, by bot and method",
      labelNames: ["bot", "method"],
      registers,
    });
    this.floodLimits = new Counter({
      name: "bot_host_flood_limited_updates_total",
      help: "Incoming updates dropped by the per-user flood limit, by bot",
      labelNames: ["bot"],
      registers,
    });
    new Gauge({
      name: "bot_host_updates_in_flight",
      help: "Updates fetched and not yet finished (running or waiting for their chat's turn), by bot",
      labelNames: ["bot"],
      registers,
      collect() {
        this.reset();
        for (const b of sources.bots()) this.set({ bot: b.id }, b.inFlight);
      },
    });
    this.deadLetters = new Counter({
      name: "bot_host_dead_letters_total",
      help: "Updates set aside as dead letters, by bot and reason (crashed: started updates.max_attempts times; timeout)",
      labelNames: ["bot", "reason"],
      registers,
    });
    this.broadcastMessages = new Counter({
      name: "bot_host_broadcast_messages_total",
      help: "Broadcast messages by bot, campaign and outcome (sent; blocked: the chat answered 403 and left the audience; failed)",
      labelNames: ["bot", "campaign", "outcome"],
      registers,
    });
    new Gauge({
      name: "bot_host_audience",
      help: "Private chats a broadcast of the bot would reach (its audience), for each bot running here",
      labelNames: ["bot"],
      registers,
      collect() {
        this.reset();
        for (const b of sources.bots()) this.set({ bot: b.id }, b.audience);
      },
    });
    new Gauge({
      name: "bot_host_dead_letters",
      help: "Dead letters of each bot running here, waiting for `bot-host dead-letters` (retry or drop)",
      labelNames: ["bot"],
      registers,
      collect() {
        this.reset();
        for (const b of sources.bots()) this.set({ bot: b.id }, b.deadLetters);
      },
    });
    new Gauge({
      name: "bot_host_bot_up",
      help: "1 when the bot is running, 0 otherwise",
      labelNames: ["bot"],
      registers,
      collect() {
        this.reset();
        for (const b of sources.bots()) this.set({ bot: b.id }, b.up ? 1 : 0);
      },
    });
    this.leaseEvents = new Counter({
      name: "bot_host_lease_events_total",
      help: "Bot leases acquired, released (graceful handover), given_up (handed over because this instance cannot reach the Bot API), expired (lost without a release) and fenced (writes refused after the loss), by bot",
      labelNames: ["bot", "event"],
      registers,
    });
    new Gauge({
      name: "bot_host_owned_bots",
      help: "Bots this instance owns by lease; absent when leases are off",
      registers,
      collect() {
        const owned = sources.ownedBots?.();
        if (owned !== undefined) this.set(owned);
      },
    });
    new Gauge({
      name: "bot_host_bot_api_reachable",
      help: "With leases: 1 when this instance reaches the Bot API, 0 when its calls have failed (network, 5xx) long enough that it hands its bots to instances that do",
      registers,
      collect() {
        const reachable = sources.botApiReachable?.();
        if (reachable !== undefined) this.set(reachable ? 1 : 0);
      },
    });
    new Gauge({
      name: "bot_host_redis_connected",
      help: "1 when the Redis connection is ready, 0 when it is not, absent without Redis",
      registers,
      collect() {
        const connected = sources.redisConnected();
        if (connected !== undefined) this.set(connected ? 1 : 0);
      },
    });
  }

  updateReceived(bot: string, type: string): void {
    this.updatesReceived.inc({ bot, type });
  }

  updateHandled(bot: string, type: string, outcome: "ok" | "error", seconds: number): void {
    this.updatesHandled.inc({ bot, type, outcome });
    this.handlerDuration.observe({ bot }, seconds);
  }

  apiCall(bot: string, method: string, error?: string): void {
    this.apiCalls.inc({ bot, method });
    if (error !== undefined) this.apiErrors.inc({ bot, method, code: error });
  }

  apiRetry(bot: string, method: string, reason: string, seconds: number): void {
    this.apiRetries.inc({ bot, method, reason });
    this.apiRetryWait.inc({ bot, method }, seconds);
  }

  throttled(bot: string, method: string, seconds: number): void {
    this.throttledCalls.inc({ bot, method });
    this.throttleWait.inc({ bot, method }, seconds);
  }

  floodLimited(bot: string): void {
    this.floodLimits.inc({ bot });
  }

  leaseEvent(bot: string, event: LeaseEventKind): void {
    this.leaseEvents.inc({ bot, event });
  }

  deadLettered(bot: string, reason: string): void {
    this.deadLetters.inc({ bot, reason });
  }

  broadcastSent(bot: string, campaign: string, outcome: string): void {
    this.broadcastMessages.inc({ bot, campaign, outcome });
  }

  /** A config reload was applied or rejected. */
  reloaded(outcome: "applied" | "rejected"): void {
    this.reloads.inc({ outcome });
  }
}
