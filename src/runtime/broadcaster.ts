import { GrammyError, HttpError, type Api } from "grammy";
import { isBotHostError, ErrorCodes } from "../errors.js";
import type { Logger } from "../logging/logger.js";
import type { CampaignState, CampaignStore, SendOutcome } from "../storage/campaign-store.js";
import { BACKGROUND } from "../transport/throttle.js";
import { sleep } from "../transport/backoff.js";
import type { RuntimeObserver } from "./observer.js";

/** Options of {@link Broadcaster}. */
export interface BroadcasterOptions {
  botId: string;
  /** The bot's API, with the host's transformers (the throttle's background lane, retries, metrics, the lease guard). */
  api: Api;
  store: CampaignStore;
  /** Messages per second at most; `paid`: paid broadcasts (`allow_paid_broadcast`). */
  pace: { perSecond: number; paid: boolean };
  /** Whether the bot's calls go through the outgoing throttle (which paces background calls); else this paces itself. */
  throttled: boolean;
  observer: RuntimeObserver;
  log: Logger;
}

/** How long a campaign waits after its sends could not reach Telegram before it tries again. */
const UNREACHABLE_PAUSE_MS = 5_000;

/**
 * Runs one bot's broadcast campaigns on the instance that runs the bot, one campaign at a time, from where it
 * stands: a few recipients are claimed at a time (in flight until their send settles), each message goes
 * through the throttle's background lane (only with what replies leave of the bot's limit, at the campaign's
 * pace; a 429 pauses the campaign, not the chats). A chat that answers 403 is counted `blocked` and leaves the
 * audience. A send whose call was refused (the lease passed on) or could not reach Telegram is not settled: the
 * next run puts it back. So a recipient gets a campaign twice only if its send was in flight at a crash, and at
 * most {@link window} sends are in flight.
 */
export class Broadcaster {
  private stopped = false;
  private running: Promise<void> | undefined;
  private again = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly o: BroadcasterOptions) {}

  /** Sends in flight at once: about a tenth of a second's worth at the campaign's pace. */
  get window(): number {
    return Math.max(1, Math.ceil(this.o.pace.perSecond / 10));
  }

  /** Looks for campaigns to run (at the bot's start, and when one is created). */
  poke(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.runAll()
      .catch((err: unknown) => this.o.log.error({ err }, "broadcast campaigns stopped on an error; the bot's next start goes on with them"))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** Stops taking recipients; resolves once the sends in flight settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async runAll(): Promise<void> {
    for (;;) {
      const next = (await this.o.store.list(this.o.botId)).filter((c) => c.status === "running").at(-1);
      if (next === undefined || this.stopped) return;
      await this.run(next);
      if (this.stopped) return;
    }
  }

  private async run(campaign: CampaignState): Promise<void> {
    const { store, botId, log } = this.o;
    const resumed = await store.resume(botId, campaign.id);
    const t0 = performance.now();
    log.info(
      {
        campaign: campaign.id,
        recipients: campaign.total,
        left: campaign.left + resumed,
        resumed: campaign.left + resumed < campaign.total,
      },
      "broadcast started",
    );
    let paused = 0;
    while (!this.stopped) {
      if (paused > 0) {
        await sleep(paused);
        paused = 0;
        await Promise.all(this.inFlight);
        await store.resume(botId, campaign.id);
      }
      const chats = this.inFlight.size < this.window ? await store.claim(botId, campaign.id, this.window - this.inFlight.size) : [];
      for (const chat of chats) {
        const sent = this.send(campaign, chat).then((unreachable) => {
          if (unreachable) paused = UNREACHABLE_PAUSE_MS;
        });
        this.inFlight.add(sent);
        void sent.finally(() => this.inFlight.delete(sent));
        if (!this.o.throttled) await sleep(1000 / this.o.pace.perSecond);
      }
      if (this.inFlight.size === 0 && chats.length === 0) {
        if (paused > 0) continue;
        await store.finish(botId, campaign.id, "done", Date.now());
        const end = await store.get(botId, campaign.id);
        log.info(
          {
            campaign: campaign.id,
            sent: end?.sent,
            blocked: end?.blocked,
            failed: end?.failed,
            status: end?.status,
            ms: Math.round(performance.now() - t0),
          },
          "broadcast finished",
        );
        return;
      }
      if (this.inFlight.size > 0) await Promise.race(this.inFlight);
    }
    await Promise.all(this.inFlight);
  }

  /** Sends the campaign to one recipient and settles it; `true` when Telegram could not be reached (not settled). */
  private async send(campaign: CampaignState, chat: string): Promise<boolean> {
    const { api, store, botId, observer, pace } = this.o;
    let outcome: SendOutcome;
    try {
      await api.sendMessage(chat, campaign.text, {
        ...(campaign.parseMode === undefined ? {} : { parse_mode: campaign.parseMode }),
        ...(pace.paid ? { allow_paid_broadcast: true } : {}),
        [BACKGROUND]: true,
      } as Parameters<Api["sendMessage"]>[2]);
      outcome = "sent";
    } catch (err) {
      // Not settled: put back by the next run (the lease passed on, or Telegram was out of reach).
      if (isBotHostError(err) && (err.code === ErrorCodes.LEASE_LOST || err.code === ErrorCodes.CALL_NOT_SENT)) return false;
      if (err instanceof HttpError) return true;
      outcome = err instanceof GrammyError && err.error_code === 403 ? "blocked" : "failed";
      if (outcome === "failed")
        this.o.log.warn({ err, campaign: campaign.id, chat }, "a broadcast message could not be sent to a recipient");
    }
    await store.settle(botId, campaign.id, chat, outcome);
    observer.broadcastSent(botId, campaign.id, outcome);
    return false;
  }
}
