import type { ErrorCode } from "../errors.js";
import type { BotInfoStore } from "../storage/bot-info-store.js";
import type { CampaignStore } from "../storage/campaign-store.js";
import type { DeadLetters } from "../storage/dead-letters.js";
import type { Journal } from "../storage/journal.js";
import type { Admission } from "./admission.js";
import type { BotClientShared } from "./bot-client.js";

/** The progress of one bot's `BotRunner.stop`. */
export interface BotStop {
  /** `true` once every received update finished, `false` when the deadline passed first. */
  readonly drained: Promise<boolean>;
  /** The bot is stopped: what the deadline cut (update ids) and the offset confirmed, if any. Never rejects. */
  readonly done: Promise<{ cut: number[]; offset: number | undefined }>;
}

/** Where a bot is in its life. `running` and not draining is what readiness asks for. */
export type BotState = "idle" | "starting" | "running" | "retrying" | "failed" | "stopping" | "stopped";

/** Why a bot is failed or retrying: a stable code and a sentence for the operator. */
export interface BotProblem {
  readonly code: ErrorCode;
  readonly message: string;
}

/** A read-only snapshot of one bot, for readiness, metrics and a stop's report. */
export interface BotStatus {
  readonly id: string;
  readonly state: BotState;
  /** Set while the bot is failed or retrying. */
  readonly problem?: BotProblem;
  /** Updates accepted and not finished. */
  readonly inFlight: number;
  /** Updates of this bot set aside (dead letters) and waiting for an operator. */
  readonly deadLetters: number;
  /** Private chats a broadcast of this bot would reach. */
  readonly audience: number;
}

/** What a {@link BotRunner} shares with every other bot. */
export interface BotRunnerShared extends BotClientShared {
  journal: Journal;
  deadLetters: DeadLetters;
  campaigns: CampaignStore;
  botInfo: BotInfoStore;
  admission: Admission;
  /** After this long (ms) a webhook request is answered and its update finishes in the background. */
  webhookReplyTimeoutMs: number;
  /** How long a start may wait for the Bot API (ms). */
  startTimeoutMs: number;
  /**
   * Bots starting at once: thousands of bots start in waves, so their Bot API calls come at a pace and what a
   * start allocates is garbage before the next wave, not all alive at the same time.
   */
  starting: Admission;
}
