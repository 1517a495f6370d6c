import { STATUS_CODES } from "node:http";
import { ApiError, type RateLimitRule } from "./types.js";

/**
 * A client whose retry arrives this many ms before retry_after has passed still counts as waiting (Node timers may
 * fire a millisecond early on the clock the local Bot API reads).
 */
const RETRY_AFTER_SLACK_MS = 5;

/**
 * A flood wait: calls of its scope should not arrive before `until` (performance.now() ms). Calls that reached the
 * local Bot API before the 429 was answered (arrival number up to `seq`) were on their way already and do not count.
 */
interface Wait {
  until: number;
  seq: number;
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
}

interface Pending {
  left: number;
  status?: number;
  ms?: number;
}

/** One call as the fault checks see it. */
export interface Arrival {
  method: string;
  /** The call's `chat_id` as a string, if it has one. */
  chat: string | undefined;
  /** Arrival number (every request the local Bot API receives gets the next one) and time (performance.now()). */
  seq: number;
  at: number;
}

/**
 * The scopes a flood wait can hold: one chat (`c:<chat_id>`), every call in a chat (`chats`: the per-bot message
 * limit), the whole bot (`bot`: a 429 to a call without a chat), and polling (`poll`): Telegram does not hold
 * getUpdates for a flood wait of sends. A call in a chat is held by its chat's, the chats' and the bot's waits.
 */
export function scopesOf(call: Pick<Arrival, "method" | "chat">): string[] {
  if (call.method === "getUpdates") return ["poll"];
  return call.chat === undefined ? ["bot"] : [`c:${call.chat}`, "chats", "bot"];
}

/** The scope a 429 to this call starts a wait in: its chat, else the bot (else polling). */
function ownScope(call: Pick<Arrival, "method" | "chat">): string {
  return scopesOf(call)[0]!;
}

/** Faults injected into one bot's calls: flood waits (429), failures (5xx) and delays. */
export class Faults {
  /** Calls that arrived inside the retry_after of an earlier 429 of their scope, not counting those in flight. */
  violations = 0;
  /** 429 answers given, for any reason. */
  tooMany = 0;
  private rules: Rule[] = [];
  private waits = new Map<string, Wait>();
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
    });
  }

  /** Removes every flood-wait rule and forgets the current waits. */
  clearRules(): void {
    this.rules = [];
    this.waits = new Map();
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

  /** Called when a call arrives: counts a retry_after violation (calls in flight at the 429 excepted). */
  arrive(call: Arrival): void {
    for (const scope of scopesOf(call)) {
      const w = this.waits.get(scope);
      if (w !== undefined && call.seq > w.seq && call.at < w.until - RETRY_AFTER_SLACK_MS) {
        this.violations++;
        return;
      }
    }
  }

  /** How long to hold a call of `method` before answering it, or undefined. */
  delayFor(method: string): number | undefined {
    return take(this.delays, method.toLowerCase())?.ms;
  }

  /**
   * The error to answer a call with instead of running it, or undefined: an injected failure, Telegram's 429 for a
   * call inside an enforced wait, or a 429 of a matching rule (which starts a wait in the call's own scope).
   * `latestSeq` is the arrival number of the newest request the local Bot API has received.
   */
  check(call: Arrival, latestSeq: number): ApiError | undefined {
    const lower = call.method.toLowerCase();
    const failure = take(this.failures, lower);
    if (failure !== undefined) {
      const status = failure.status ?? 500;
      return new ApiError(status, STATUS_CODES[status] ?? `Error ${status}`);
    }
    const t = performance.now();
    for (const scope of scopesOf(call)) {
      const w = this.waits.get(scope);
      if (w !== undefined && w.enforce && t < w.until) return this.tooManyRequests(Math.ceil((w.until - t) / 1000));
    }
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
    return this.startWait(ownScope(call), hit.retryAfter, hit.enforce, latestSeq);
  }

  /** Answers 429 with `retryAfter` seconds and starts (or extends) the wait of `scope`. */
  startWait(scope: string, retryAfter: number, enforce: boolean, latestSeq: number): ApiError {
    const now = performance.now();
    const w = this.waits.get(scope);
    const running = w !== undefined && w.until > now;
    this.waits.set(scope, {
      until: Math.max(running ? w.until : 0, now + retryAfter * 1000),
      seq: latestSeq,
      enforce: enforce || (running && w.enforce),
    });
    return this.tooManyRequests(retryAfter);
  }

  private tooManyRequests(seconds: number): ApiError {
    this.tooMany++;
    return new ApiError(429, `Too Many Requests: retry after ${seconds}`, { retry_after: seconds });
  }
}

function take(map: Map<string, Pending>, key: string): Pending | undefined {
  const p = map.get(key);
  if (p === undefined) return undefined;
  if (--p.left <= 0) map.delete(key);
  return p;
}
