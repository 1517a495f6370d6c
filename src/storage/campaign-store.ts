/** How a campaign stands. `running` until every recipient was tried (`done`) or an operator cancelled it. */
export type CampaignStatus = "running" | "done" | "cancelled";

/** What a campaign sends, as the operator gave it. */
export interface CampaignSpec {
  /** Shared by the per-bot campaigns of one `bot-host broadcast --all`. */
  readonly id: string;
  readonly text: string;
  readonly parseMode?: "HTML" | "MarkdownV2" | undefined;
}

/** One bot's campaign as it stands. */
export interface CampaignState extends CampaignSpec {
  readonly botId: string;
  readonly status: CampaignStatus;
  /** Recipients: the bot's audience when the campaign was created. */
  readonly total: number;
  readonly sent: number;
  /** Recipients whose chat answered 403 (they blocked the bot, or are gone): they left the audience. */
  readonly blocked: number;
  /** Recipients a send failed for otherwise (after its retries). */
  readonly failed: number;
  /** Recipients not tried yet. */
  readonly left: number;
  /** Sends under way (tried again after a crash). */
  readonly inFlight: number;
  readonly createdAt: number;
  readonly finishedAt?: number | undefined;
}

/** What became of one recipient. */
export type SendOutcome = "sent" | "blocked" | "failed";

/**
 * Broadcast campaigns and each bot's audience (the private chats that wrote to it). A campaign snapshots the
 * audience into its recipients at creation; a runner claims a few at a time (they are "in flight" until
 * settled), so a crash repeats at most the sends in flight then, which {@link resume} puts back.
 */
export interface CampaignStore {
  /** How many private chats a broadcast of the bot would reach. */
  audienceSize(botId: string): Promise<number>;
  /** A chat that answered 403 leaves the audience. */
  forget(botId: string, chatKey: string): Promise<void>;
  /** Creates the bot's campaign with the audience as recipients. */
  create(botId: string, spec: CampaignSpec, now: number): Promise<CampaignState>;
  /** The bot's campaigns, newest first. */
  list(botId: string): Promise<CampaignState[]>;
  get(botId: string, id: string): Promise<CampaignState | undefined>;
  /** Takes up to `n` recipients not tried yet; they are in flight until {@link settle}d. */
  claim(botId: string, id: string, n: number): Promise<string[]>;
  /** Records what became of a recipient in flight (a blocked one also leaves the audience). */
  settle(botId: string, id: string, chatKey: string, outcome: SendOutcome): Promise<void>;
  /** Puts the recipients still in flight (a crash, a handover) back at the front; returns how many. */
  resume(botId: string, id: string): Promise<number>;
  /** Ends a campaign: `done`, or `cancelled` (its recipients not tried are dropped). */
  finish(botId: string, id: string, status: "done" | "cancelled", now: number): Promise<void>;
}

/** A campaign's state from its parts. */
export function campaignState(
  botId: string,
  meta: Omit<CampaignState, "botId" | "sent" | "blocked" | "failed" | "left" | "inFlight">,
  counts: { sent: number; blocked: number; failed: number; left: number; inFlight: number },
): CampaignState {
  return { ...meta, botId, ...counts };
}
