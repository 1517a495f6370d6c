import { GrammyError, HttpError } from "grammy";
import type { Update } from "grammy/types";
import type { UpdateSupplier } from "@grammyjs/runner";
import { BotHostError, ErrorCodes, type ErrorCode } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import type { Journal } from "../storage/journal.js";
import type { Admission } from "./admission.js";
import { backoffDelay, sleep } from "../transport/backoff.js";
import type { GetUpdates } from "./get-updates.js";
import { handOff } from "./lone-update.js";

type RunnerSignal = Parameters<UpdateSupplier<Update>["supply"]>[1];

/** Resolves with `work`, or rejects with the signal's reason as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Why polling fails for now (it is retried): a stable code and a sentence. */
export interface PollingProblem {
  readonly code: ErrorCode;
  readonly message: string;
}

/** Options of {@link PollingSupplier}. */
export interface PollingSupplierOptions {
  botId: string;
  getUpdates: GetUpdates;
  journal: Journal;
  admission: Admission;
  logger: Logger;
  /**
   * getUpdates `limit` upper bound (1..100); the bot's in-flight cap (the runner's first call asks for unbounded
   * capacity, this bounds it); how long a long poll waits (ms).
   */
  polling: { readonly limit: number; readonly concurrency: number; readonly timeoutMs: number };
  allowedUpdates: readonly string[] | undefined;
  /** Updates journaled by an earlier run and not finished, oldest first: handed out before any polling. */
  replay: Update[];
  /** Highest update id ever journaled, if any. */
  watermark: number | undefined;
  /** Told when polling works (no problem) or is failing and being retried (the problem, with a stable code). */
  onHealth?: (problem: PollingProblem | undefined) => void;
  /**
   * For a leased bot, before each fetch: resolves undefined while the lease is valid (waiting, while it is in doubt,
   * until a renewal answers), or the error to end with once it is lost.
   */
  leased?: () => Promise<BotHostError | undefined>;
  /** For a leased bot: the fence token its journal writes carry. */
  fence?: string;
  /** `true` while nothing of this bot is in flight: a lone update's journal write may then ride on its begin. */
  idle?: () => boolean;
}

/**
 * The runner's update source for one bot, made exactly-once with the journal:
 * - every fetched batch is written to the journal (one write) before the next getUpdates confirms its offset;
 * - the cursor survives restarts (`offset:<botId>`), and updates at or below it are never handed out twice;
 * - unfinished updates of an earlier run are replayed first, in update order;
 * - each batch is admitted into the global in-flight cap before it is returned.
 * 401 ends the bot (rejecting the runner's task); 409, 429, 5xx and network errors are retried with backoff.
 */
export class PollingSupplier implements UpdateSupplier<Update> {
  private offset: number | undefined;
  private watermark: number | undefined;
  private readonly replay: Update[];
  private readonly log: Logger;
  /** The journal write of the lone update handed out last, carried by its begin: awaited before the next fetch. */
  private recording: Promise<unknown> | undefined;

  constructor(private readonly o: PollingSupplierOptions) {
    this.replay = o.replay;
    this.watermark = o.watermark;
    this.offset = o.watermark === undefined ? undefined : o.watermark + 1;
    this.log = o.logger;
  }

  /** Called by the runner with the sink's free capacity. */
  async supply(batchSize: number, runnerSignal: RunnerSignal): Promise<Update[]> {
    // The runner declares the `abort-controller` shim's type; at run time it is the built-in signal.
    const signal = runnerSignal as unknown as AbortSignal;
    if (this.replay.length > 0) {
      const batch = this.replay.splice(
        0,
        Math.max(1, Math.min(batchSize, this.o.polling.limit, this.o.polling.concurrency, this.o.admission.capacity)),
      );
      await this.o.admission.acquire(batch.length, signal);
      return batch;
    }
    for (let failures = 0; ;) {
      const recording = this.recording;
      this.recording = undefined;
      if (recording !== undefined) {
        try {
          await untilAborted(recording, signal);
          failures = 0;
        } catch (err) {
          if (!(await this.journalFailed(err, failures++, 1, signal))) throw err;
        }
      }
      const lost = this.o.leased === undefined ? undefined : await untilAborted(this.o.leased(), signal);
      if (lost !== undefined) throw lost;
      const limit = Math.max(1, Math.min(batchSize, this.o.polling.limit, this.o.polling.concurrency, this.o.admission.free));
      const updates = await this.fetch(limit, signal);
      const last = updates[updates.length - 1];
      if (last === undefined) continue;
      const mark = this.watermark;
      const fresh = mark === undefined ? updates : updates.filter((u) => u.update_id > mark);
      if (fresh.length === 0) {
        this.offset = last.update_id + 1;
        continue;
      }
      // The next getUpdates confirms this batch to Telegram: it must be in the journal before that. While Redis
      // is unreachable the write waits; a stop does not (the batch is then neither handled nor confirmed).
      const lone = fresh[0];
      if (fresh.length === 1 && lone !== undefined && this.o.journal.recordsOnBegin && this.o.idle?.() === true) {
        // The write rides on the update's begin; the cursor moves once it landed, and the next fetch waits for it.
        this.recording = handOff(lone, "append").then(() => this.passed(last.update_id));
        await this.o.admission.acquire(1, signal);
        return fresh;
      }
      try {
        await untilAborted(this.o.journal.append(this.o.botId, fresh, this.o.fence), signal);
      } catch (err) {
        if (await this.journalFailed(err, failures++, fresh.length, signal)) continue;
        throw err;
      }
      failures = 0;
      this.passed(last.update_id);
      // Stopped while waiting for room: the batch stays journaled and is replayed by the next start.
      await this.o.admission.acquire(fresh.length, signal);
      return fresh;
    }
  }

  /** The batch ending at `lastId` is journaled: the next fetch confirms it. */
  private passed(lastId: number): void {
    this.offset = lastId + 1;
    this.watermark = lastId;
  }

  /**
   * A batch could not be journaled: `false` when that ends polling (a stop, or the lease passed on); else logs it
   * and waits with backoff, and the same batch is fetched again (the offset did not move).
   */
  private async journalFailed(err: unknown, failures: number, updates: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted || (err instanceof BotHostError && err.code === ErrorCodes.LEASE_LOST)) return false;
    this.log.error({ err, updates }, "cannot write the update journal; retrying the batch");
    await sleep(backoffDelay(failures, 500, 30_000), signal);
    return true;
  }

  /**
   * The offset to confirm at shutdown: past everything journaled when the journal is durable, else only past
   * what was finished (an in-memory journal dies with the process).
   */
  async confirmableOffset(): Promise<number | undefined> {
    if (this.watermark === undefined) return undefined;
    if (!this.o.journal.durable) {
      const { pending } = await this.o.journal.load(this.o.botId);
      const oldest = pending[0];
      if (oldest !== undefined) return oldest.update_id;
    }
    return this.watermark + 1;
  }

  private async fetch(limit: number, signal: AbortSignal): Promise<Update[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const updates = await this.o.getUpdates(
          { offset: this.offset, limit, timeout: Math.floor(this.o.polling.timeoutMs / 1000), allowed_updates: this.o.allowedUpdates },
          signal,
        );
        if (attempt > 0) this.log.info({ attempts: attempt + 1 }, "polling recovered");
        this.o.onHealth?.(undefined);
        return updates;
      } catch (err) {
        if (signal.aborted) throw err;
        await this.onFetchError(err, attempt, signal);
      }
    }
  }

  private async onFetchError(err: unknown, attempt: number, signal: AbortSignal): Promise<void> {
    if (err instanceof GrammyError && err.error_code === 401) {
      throw new BotHostError(
        ErrorCodes.BOT_UNAUTHORIZED,
        `Telegram rejected the token of bot "${this.o.botId}" (401 Unauthorized); check it with @BotFather and fix bots.yaml`,
        { cause: err },
      );
    }
    let delay = backoffDelay(attempt);
    let problem: PollingProblem;
    const now = attempt === 0 || attempt % 10 === 0;
    if (err instanceof GrammyError && err.error_code === 409) {
      delay = backoffDelay(attempt, 1_000, 60_000);
      problem = { code: ErrorCodes.BOT_CONFLICT, message: "409 Conflict: another process is polling with this token, or a webhook is set" };
      if (now) this.log.warn({ err, code: problem.code }, `${problem.message}; stop the other poller or run deleteWebhook (retrying)`);
    } else if (err instanceof GrammyError && err.error_code === 429) {
      delay = 1_000 * (err.parameters.retry_after ?? 1);
      problem = {
        code: ErrorCodes.BOT_API_RATE_LIMITED,
        message: `getUpdates answered 429, retry after ${err.parameters.retry_after ?? 1} s`,
      };
      this.log.warn({ retry_after: err.parameters.retry_after }, "getUpdates answered 429, waiting retry_after");
    } else if (err instanceof GrammyError) {
      problem = { code: ErrorCodes.BOT_API_ERROR, message: `getUpdates answered ${err.error_code}: ${err.description}` };
      if (now) this.log.warn({ err, attempt }, "getUpdates failed, retrying with backoff");
    } else {
      problem = { code: ErrorCodes.BOT_API_UNREACHABLE, message: "cannot reach the Bot API" };
      if (now)
        this.log.warn({ err: err instanceof HttpError ? err.error : err, attempt }, "cannot reach the Bot API, retrying with backoff");
    }
    this.o.onHealth?.(problem);
    await sleep(delay, signal);
  }
}
