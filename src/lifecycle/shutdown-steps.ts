import { BotHostError, ErrorCodes } from "../errors.js";
import type { Logger } from "../logging/logger.js";

/** Updates that were fetched but not finished when a stop was cut short, per bot. */
export interface CutReport {
  readonly total: number;
  readonly bots: ReadonlyArray<{ bot: string; update_ids: number[] }>;
}

/** Raised by a stop when the drain did not finish within `shutdown.drain_timeout`. */
export class DrainTimeoutError extends BotHostError {
  constructor(
    readonly cut: CutReport,
    seconds: number,
  ) {
    super(
      ErrorCodes.DRAIN_TIMEOUT,
      `drain did not finish within shutdown.drain_timeout (${seconds} s); ${cut.total} update(s) cut off, the next start handles them`,
    );
  }
}

/** Raised by a stop when a shutdown step failed; the steps after it still ran. */
export class ShutdownFailedError extends BotHostError {
  constructor(readonly steps: readonly string[]) {
    super(ErrorCodes.SHUTDOWN_FAILED, `shutdown step(s) failed: ${steps.join(", ")}; see the log lines above for the cause`);
  }
}

/**
 * Runs the numbered steps of an ordered shutdown: each is logged when done (`shutdown step n/N: <done>`, with
 * its duration and the fields it returns) or, when it throws, as failed (`shutdown step n/N failed: <doing>`,
 * level error, with the error); a failed step never stops the steps after it. {@link finish} then throws
 * {@link ShutdownFailedError} if any failed.
 */
export class ShutdownSteps {
  private readonly failed: string[] = [];

  constructor(
    private readonly log: Logger,
    private readonly total: number,
  ) {}

  async run(n: number, doing: string, done: string, step: () => Promise<Record<string, unknown>>): Promise<void> {
    const t0 = performance.now();
    try {
      const fields = await step();
      this.log.info({ step: n, ms: Math.round(performance.now() - t0), ...fields }, `shutdown step ${n}/${this.total}: ${done}`);
    } catch (err) {
      this.failed.push(`${n}/${this.total} ${doing}`);
      this.log.error(
        { step: n, ms: Math.round(performance.now() - t0), err, failed: true },
        `shutdown step ${n}/${this.total} failed: ${doing}`,
      );
    }
  }

  /** Throws {@link ShutdownFailedError} naming every failed step, if any. */
  finish(): void {
    if (this.failed.length > 0) throw new ShutdownFailedError(this.failed);
  }
}
