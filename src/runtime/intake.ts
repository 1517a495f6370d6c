import type { Update } from "grammy/types";

/**
 * How a bot receives updates: long polling (`PollingIntake`) or webhooks (`WebhookIntake`). An intake owns
 * the updates it accepted until they finish: it counts them in flight and gives their admission slots back in
 * the same place it took them.
 */
export interface Intake {
  /** Begins receiving; resolves once receiving works or has been handed to a background task. */
  start(): Promise<void>;
  /** Stops receiving new updates (updates already received still finish). */
  stop(): void;
  /** Update ids accepted and not yet finished (running, or waiting for their chat's turn), oldest first. */
  inFlight(): number[];
  /** Settles once every accepted update finished and the intake's own background work ended (after {@link stop}). */
  drained(): Promise<void>;
  /** Runs a journaled update now, as if it had just arrived (a dead letter an operator handed back). */
  inject(update: Update): void;
  /** Confirms received updates with the Bot API after the drain; returns the confirmed offset, if any. */
  confirm(): Promise<number | undefined>;
}
