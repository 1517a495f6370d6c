import type { Logger } from "../logging/logger.js";

/**
 * Whether this instance reaches the Bot API, from the outcome of every call its bots make (it listens as part
 * of the runtime's observer). Any answer from Telegram, an error code below 500 included (429, 400, 409...),
 * means it is reachable; network errors and 5xx answers mean it is not. The instance counts as cut off once
 * calls have failed that way, and none has got through, for `thresholdMs`.
 */
export class BotApiReachability {
  private failingSince: number | undefined;

  constructor(private readonly thresholdMs: number) {}

  /** `RuntimeObserver.apiCall`: `error` is Telegram's `error_code` or `network`. */
  apiCall(_bot: string, _method: string, error?: string): void {
    if (error === undefined || (error !== "network" && Number(error) < 500)) this.failingSince = undefined;
    else this.failingSince ??= performance.now();
  }

  /** A probe call got an answer from Telegram. */
  reached(): void {
    this.failingSince = undefined;
  }

  /** True once calls have failed (network, 5xx) and none got through for the threshold. */
  get cutOff(): boolean {
    return this.failingSince !== undefined && performance.now() - this.failingSince >= this.thresholdMs;
  }

  /** How long calls have been failing (ms), 0 when they get through. */
  get failingForMs(): number {
    return this.failingSince === undefined ? 0 : Math.round(performance.now() - this.failingSince);
  }

  /** Whether the last {@link decide} found this instance cut off (logged once each way). */
  private wasCutOff = false;
  /** Bots this instance handed over because it could not reach the Bot API (until it can again). */
  readonly givenUp = new Set<string>();

  /**
   * One lease round's decision from the live instances and how many of them are cut off: the instances that reach
   * the Bot API share the bots; one that cannot hands its bots to them, if there are any, and keeps them otherwise.
   * Logs when this instance loses or regains the Bot API.
   */
  decide(registry: { live: number; cutOff: number }, log: Logger, owned: number): { givingUp: boolean; sharers: number } {
    const cut = this.cutOff;
    const reaching = registry.live - registry.cutOff;
    const givingUp = cut && reaching >= 1;
    if (cut !== this.wasCutOff) {
      this.wasCutOff = cut;
      if (cut) {
        log.error(
          { failing_ms: this.failingForMs, owned, others_reach_it: givingUp },
          givingUp
            ? "this instance cannot reach the Bot API (network errors or 5xx): handing its bots to the instances that can"
            : "this instance cannot reach the Bot API (network errors or 5xx), and no other instance can take its bots: keeping them, retrying",
        );
      } else {
        log.info({ given_up: [...this.givenUp] }, "this instance reaches the Bot API again: it takes its share of the bots again");
        this.givenUp.clear();
      }
    }
    return { givingUp, sharers: cut ? Math.max(1, registry.live) : Math.max(1, reaching) };
  }

  /** Whether this instance is cut off from the Bot API (as last decided), and the bots it handed over for that. */
  view(): { cutOff: boolean; givenUp: string[] } {
    return { cutOff: this.wasCutOff, givenUp: [...this.givenUp] };
  }
}
