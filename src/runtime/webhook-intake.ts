import type { Bot } from "grammy";
import type { Update } from "grammy/types";
import type { Logger } from "../logging/logger.js";
import type { HostContext } from "./context.js";
import type { Journal } from "../storage/journal.js";
import type { Admission } from "./admission.js";
import { InFlightTracker } from "./in-flight.js";
import type { Intake } from "./intake.js";
import { handOff } from "./lone-update.js";

/** What a webhook request gets back from the bot. */
export type WebhookOutcome = "handled" | "duplicate" | "background" | "unavailable";

/** Options of {@link WebhookIntake}. */
export interface WebhookIntakeOptions {
  botId: string;
  bot: Bot<HostContext>;
  journal: Journal;
  /** Global in-flight cap. */
  admission: Admission;
  /** This bot's in-flight cap. */
  perBot: Admission;
  logger: Logger;
  /** After this long (ms) a request is answered and its update finishes in the background. */
  replyTimeoutMs: number;
  replay: Update[];
  consume: (update: Update) => Promise<void>;
  /** For a leased bot: the fence token its claims carry. */
  fence?: string;
}

/**
 * Webhook delivery for one bot. Each POSTed update is claimed in the journal first, so a redelivery of an
 * update in flight or recently finished is acknowledged without handling it twice; then it runs through the
 * same pipeline as a polled one, and the request is answered when it finished (or after `replyTimeoutMs`,
 * letting it finish in the background, where the shutdown drain still waits for it).
 */
export class WebhookIntake implements Intake {
  private accepting = false;
  /** An update counts from the moment it is accepted, also while it waits for room. */
  private readonly tracker = new InFlightTracker();

  constructor(private readonly o: WebhookIntakeOptions) {}

  /** Accepts requests from now on, and runs the unfinished updates of an earlier run. */
  async start(): Promise<void> {
    this.accepting = true;
    // Unfinished updates of an earlier run, oldest first; the pipeline keeps each chat's order.
    for (const u of this.o.replay) void this.run(u);
  }

  /** Handles one update POSTed by Telegram. */
  async receive(update: Update): Promise<WebhookOutcome> {
    if (!this.accepting) return "unavailable";
    const { journal, admission, perBot } = this.o;
    let done: Promise<void>;
    // Nothing else of this bot in flight: the claim rides on the update's begin (see `lone-update.ts`). The
    // request is answered only once the update is journaled either way.
    if (journal.recordsOnBegin && this.tracker.size === 0 && perBot.free > 0 && admission.free > 0) {
      const claimed = handOff(update, "claim");
      done = this.run(update);
      if (!(await claimed)) return "duplicate";
    } else {
      if (!(await journal.claim(this.o.botId, update, this.o.fence))) return "duplicate";
      done = this.run(update);
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"background">((resolve) => {
      timer = setTimeout(() => resolve("background"), this.o.replyTimeoutMs);
    });
    const outcome = await Promise.race([done.then(() => "handled" as const), late]);
    clearTimeout(timer);
    return outcome;
  }

  private async run(update: Update): Promise<void> {
    this.tracker.add(update.update_id);
    try {
      await this.o.perBot.acquire(1);
      await this.o.admission.acquire(1);
      try {
        await this.o.consume(update);
      } finally {
        this.o.admission.release(1);
        this.o.perBot.release(1);
      }
    } finally {
      this.tracker.delete(update.update_id);
    }
  }

  inject(update: Update): void {
    void this.run(update);
  }

  stop(): void {
    this.accepting = false;
  }

  inFlight(): number[] {
    return this.tracker.snapshot();
  }

  drained(): Promise<void> {
    return this.tracker.idle();
  }

  /** Webhook updates are confirmed by answering their requests: nothing to do here. */
  async confirm(): Promise<number | undefined> {
    return undefined;
  }
}
