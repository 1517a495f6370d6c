import type { Update } from "grammy/types";

/**
 * A lone update's journal write carried by its begin. Most updates of a fleet's bots arrive one at a time; for
 * such an update the intake does not journal it in a round trip of its own: it hands the write to the update's
 * begin in the pipeline (`Journal.begin` with `record`), and waits for that before it confirms or answers
 * anything. Only offered while the bot has nothing else in flight, so the update's chat is free and its begin runs
 * at once: waiting on it never holds the bot's intake behind a busy chat.
 */
export interface LoneUpdate {
  /** How the begin records the update: as a polled update (`append`) or a webhook one (`claim`). */
  readonly as: "append" | "claim";
  /** Settles the intake's wait: recorded (`false` for a claimed redelivery), or the error that kept it out. */
  settle(outcome: boolean | Error): void;
}

const lone = new WeakMap<Update, LoneUpdate>();

/**
 * Hands the journal write of `update` to its begin. Resolves `true` once the update is journaled (`false`: a
 * claimed redelivery, not run), rejects with the error of a begin that failed (the update is not journaled).
 */
export function handOff(update: Update, as: LoneUpdate["as"]): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    lone.set(update, {
      as,
      settle: (outcome) => {
        lone.delete(update);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      },
    });
  });
}

/** The journal write handed to the begin of `update`, if any (taken: a second call returns undefined). */
export function takeHandOff(update: Update): LoneUpdate | undefined {
  const handed = lone.get(update);
  lone.delete(update);
  return handed;
}

/** Settles a hand-off the pipeline never took (the update ended before its begin): the update is not journaled. */
export function dropHandOff(update: Update): void {
  lone.get(update)?.settle(new Error(`update ${update.update_id} ended before it was journaled`));
}
