import { STATUS_CODES } from "node:http";
import { ApiError, type RateLimitRule } from "./types.js";

/**
 * A client whose retry arrives this many ms before retry_after has passed still counts as waiting (Node timers and
 * `Date.now()` may disagree by a millisecond or two).
 */
const RETRY_AFTER_SLACK_MS = 5;
/** Default of {@link RateLimitRule.graceMs}. */
const DEFAULT_GRACE_MS = 100;

/** A flood wait: calls of its kind should not arrive before `until`; those before `graceEnd` were in flight. */
interface Wait {
  until: number;
  graceEnd: number;
  enforce: boolean;
}

interface Rule {
  methods: ReadonlySet<string> | undefined;
  /** 429s left to answer (Infinity: unlimited). */
  left: number;
  every: number;
  seen: number;
  retryAfter: number;
  enforce: boolean;
  graceMs: number;
}

interface Pending {
  left: number;
  status?: number;
  ms?: number;
}

/** Faults injected into one bot's calls: flood waits (429), failures (5xx) and delays. */
export class Faults {
  /** Calls that arrived before the retry_after of an earlier 429 had passed. */
  violations = 0;
  private rules: Rule[] = [];
  /** The wait of the bot's calls, and the separate one of getUpdates (Telegram does not hold polling for sends). */
  private wait: Wait = { until: 0, graceEnd: 0, enforce: false };
  private pollWait: Wait = { until: 0, graceEnd: 0, enforce: false };
  private readonly failures = new Map<string, Pending>();
  private readonly delays = new Map<string, Pending>();

  /** Adds a flood-wait rule. */
  addRule(rule: RateLimitRule): void {
    if (!(rule.retryAfter > 0)) throw new Error("rateLimit: retryAfter must be a positive number of seconds");
    this.rules.push({
      methods: rule.methods === undefined ? undefined : new Set(rule.methods.map((m) => m.toLowerCase())),
      left: rule.count ?? Infinity,
      every: Math.max(1, Math.floor(rule.every ?? 1)),
      seen: 0,
      retryAfter: Math.ceil(rule.retryAfter),
      enforce: rule.enforce === true,
      graceMs: rule.graceMs ?? DEFAULT_GRACE_MS,
    });
  }

  /** Removes every flood-wait rule and forgets the current wait. */
  clearRules(): void {
    this.rules = [];
    this.wait = { until: 0, graceEnd: 0, enforce: false };
    this.pollWait = { until: 0, graceEnd: 0, enforce: false };
  }

  /** The next `count` calls of `method` fail with HTTP `status`. */
  failNext(method: string, status: number, count: number): void {
    if (count > 0) this.failures.set(method.toLowerCase(), { left: count, status });
    else this.failures.delete(method.toLowerCase());
  }

  /** The next `count` calls of `method` are answered only after `ms` (Infinity: never; the client must give up). */
  delayNext(method: string, ms: number, count: number): void {
    if (count > 0) this.delays.set(method.toLowerCase(), { left: count, ms });
    else this.delays.delete(method.toLowerCase());
  }

  /** Called when a call arrives: counts retry_after violations (calls still in flight at the 429 excepted). */
  arrive(method: string): void {
    const w = this.waitOf(method);
    const t = performance.now();
    if (t >= w.graceEnd && t < w.until - RETRY_AFTER_SLACK_MS) this.violations++;
  }

  /** How long to hold a call of `method` before answering it, or undefined. */
  delayFor(method: string): number | undefined {
    return take(this.delays, method.toLowerCase())?.ms;
  }

  /** The error to answer a call of `method` with instead of running it, or undefined. */
  check(method: string): ApiError | undefined {
    const lower = method.toLowerCase();
    const failure = take(this.failures, lower);
    if (failure !== undefined) {
      const status = failure.status ?? 500;
      return new ApiError(status, STATUS_CODES[status] ?? `Error ${status}`);
    }
    const t = performance.now();
    const wait = this.waitOf(method);
    if (wait.enforce && t < wait.until) return tooMany(Math.ceil((wait.until - t) / 1000));
    let hit: Rule | undefined;
    for (const rule of this.rules) {
      if (rule.left <= 0 || (rule.methods !== undefined && !rule.methods.has(lower))) continue;
      rule.seen++;
      if (hit === undefined && rule.seen % rule.every === 0) {
        hit = rule;
        rule.left--;
      }
    }
    if (hit === undefined) return undefined;
    wait.until = Math.max(wait.until, t + hit.retryAfter * 1000);
    wait.graceEnd = t + hit.graceMs;
    wait.enforce = hit.enforce;
    return tooMany(hit.retryAfter);
  }

  private waitOf(method: string): Wait {
    return method === "getUpdates" ? this.pollWait : this.wait;
  }
}

function tooMany(seconds: number): ApiError {
  return new ApiError(429, `Too Many Requests: retry after ${seconds}`, { retry_after: seconds });
}

function take(map: Map<string, Pending>, key: string): Pending | undefined {
  const p = map.get(key);
  if (p === undefined) return undefined;
  if (--p.left <= 0) map.delete(key);
  return p;
}
