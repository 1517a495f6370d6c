import type { Update } from "grammy/types";
import { createConcurrentSink, createRunner, createSource, type RunnerHandle } from "@grammyjs/runner";
import { InFlightTracker } from "./in-flight.js";
import type { Intake } from "./intake.js";
import { PollingSupplier, type PollingSupplierOptions } from "./polling-supplier.js";

/** Options of {@link PollingIntake}: the supplier's, and what the sink hands each update to. */
export interface PollingIntakeOptions extends PollingSupplierOptions {
  /** Handles one update; never rejects. */
  consume: (update: Update) => Promise<void>;
  /** Told when the runner ended on an unrecoverable error (401). */
  onFatal: (err: unknown) => void;
}

/**
 * Long polling with @grammyjs/runner: the journaled {@link PollingSupplier} as the runner's source and a
 * concurrent sink bounded by the bot's `polling.concurrency`.
 */
export class PollingIntake implements Intake {
  private readonly supplier: PollingSupplier;
  private readonly tracker = new InFlightTracker();
  private handle: RunnerHandle | undefined;
  private task: Promise<void> = Promise.resolve();

  constructor(private readonly o: PollingIntakeOptions) {
    this.supplier = new PollingSupplier({ ...o, idle: () => this.tracker.size === 0 });
  }

  async start(): Promise<void> {
    // The supplier took one admission slot per update it handed out: each is given back here, with the
    // update's in-flight entry, when it ends. The consumer never rejects (it logs handler errors itself), so
    // the sink's error handler is never called.
    const consume = (u: Update): Promise<void> => this.run(u);
    const sink = createConcurrentSink<Update>({ consume }, async () => {}, { concurrency: this.o.polling.concurrency });
    this.handle = createRunner(createSource(this.supplier), sink);
    this.handle.start();
    this.task = (this.handle.task() ?? Promise.resolve()).then(
      () => undefined,
      (err: unknown) => this.o.onFatal(err),
    );
  }

  /** Handles an update that holds an admission slot: counted in flight until it ends, then its slot is given back. */
  private run(u: Update): Promise<void> {
    this.tracker.add(u.update_id);
    return this.o.consume(u).finally(() => {
      this.tracker.delete(u.update_id);
      this.o.admission.release(1);
    });
  }

  inject(update: Update): void {
    this.tracker.add(update.update_id);
    void this.o.admission.acquire(1).then(() => this.run(update));
  }

  stop(): void {
    void this.handle?.stop();
  }

  inFlight(): number[] {
    return this.tracker.snapshot();
  }

  async drained(): Promise<void> {
    await this.tracker.idle();
    await this.task;
  }

  async confirm(): Promise<number | undefined> {
    const offset = await this.supplier.confirmableOffset();
    if (offset === undefined) return undefined;
    try {
      await this.o.getUpdates({ offset, limit: 1, timeout: 0 }, AbortSignal.timeout(5_000));
      return offset;
    } catch (err) {
      this.o.logger.warn({ err, offset }, "could not confirm the offset; the journal filters the redelivery");
      return undefined;
    }
  }
}
