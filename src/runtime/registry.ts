import type { BotSettings } from "../config/settings.js";
import type { Logger } from "../logging/logger.js";
import { BotRunner, type BotRunnerShared, type BotStatus } from "./bot-runner.js";
import type { Lease } from "./lease.js";

const START_PARALLELISM = 64;

/**
 * The running bots by configured id: creates their runners on the shared parts, starts them in parallel
 * (bounded), and stops one alone (for a reload or a handover) exactly as a full shutdown stops every bot.
 */
export class BotRegistry {
  private readonly runners = new Map<string, BotRunner>();

  constructor(
    private readonly shared: BotRunnerShared,
    private readonly logger: Logger,
  ) {}

  get(id: string): BotRunner | undefined {
    return this.runners.get(id);
  }

  all(): BotRunner[] {
    return [...this.runners.values()];
  }

  /** A snapshot of every bot here. */
  statuses(): BotStatus[] {
    return this.all().map((r) => r.status());
  }

  /** Creates the runner of `bot` (not started); `lease` when this instance runs it under a lease. */
  add(bot: BotSettings, lease?: Lease): BotRunner {
    const runner = new BotRunner(bot, this.shared, this.logger, lease);
    this.runners.set(bot.id, runner);
    return runner;
  }

  /** Starts `runners`, at most 64 at a time; stops picking new ones once `cancelled()` is true. */
  async start(runners: BotRunner[], cancelled: () => boolean): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let r = runners[next++]; r !== undefined && !cancelled(); r = runners[next++]) await r.start();
    };
    await Promise.all(Array.from({ length: Math.min(START_PARALLELISM, runners.length) }, worker));
  }

  /**
   * Stops one bot alone: no new updates, drain within `drainTimeoutMs` (what is cut stays in the journal for
   * the next start), confirm its offset, release it. Returns the number of updates cut off.
   */
  async remove(id: string, drainTimeoutMs: number): Promise<number> {
    const r = this.runners.get(id);
    if (r === undefined) return 0;
    this.runners.delete(id);
    const { cut } = await r.stop(drainTimeoutMs).done;
    if (cut.length > 0)
      r.log.warn(
        { cut_updates: cut.length, update_ids: cut },
        "drain deadline passed while stopping this bot; the next start handles the cut updates",
      );
    r.log.info({ cut_updates: cut.length }, "bot stopped");
    return cut.length;
  }

  /**
   * Stops one bot at once, without waiting for its updates (the lease was lost: they are the new owner's now,
   * and their writes are refused). Its offset is not confirmed.
   */
  drop(id: string): void {
    const r = this.runners.get(id);
    if (r === undefined) return;
    this.runners.delete(id);
    r.stop(0);
  }

  /** Creates and starts runners for `bots` (the reload path); resolves with the ids of those not running. */
  async startAll(bots: readonly BotSettings[], cancelled: () => boolean): Promise<string[]> {
    const runners = bots.map((b) => this.add(b));
    await this.start(runners, cancelled);
    return runners.filter((r) => !r.running).map((r) => r.id);
  }
}
