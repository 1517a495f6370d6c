import type { Redis } from "ioredis";
import type { KeyBuilder } from "./keys.js";

/** An operator's command about a bot, heard by every running host (the bot's owner acts on it). */
export type OperatorEvent =
  /** A dead letter handed back to run once more. */
  | { readonly kind: "retry"; readonly botId: string; readonly updateId: number }
  /** Dead letters dropped (the counts change). */
  | { readonly kind: "drop"; readonly botId: string }
  /** A broadcast campaign created, or cancelled: the owner looks at the bot's campaigns again. */
  | { readonly kind: "campaign"; readonly botId: string; readonly id: string };

/**
 * The pub/sub channel on which the CLI (`bot-host dead-letters`, `bot-host broadcast`) tells the running hosts what
 * it did. A message nobody hears loses nothing: what it announces is in Redis already (a retried letter in the
 * journal, a campaign in the bot's campaigns), and the bot's next start picks it up.
 */
export class OperatorChannel {
  private readonly channel: string;

  constructor(
    private readonly o: {
      /** Publishes (any connection). */
      redis: Redis;
      /** The subscription's own connection (owned by the `RedisConnection`), when this side listens. */
      subscriber?: Redis;
      keys: KeyBuilder;
    },
  ) {
    this.channel = o.keys.operatorChannel();
  }

  /** Listens for events; each is passed to `onEvent`. */
  async subscribe(onEvent: (event: OperatorEvent) => void): Promise<void> {
    const { subscriber } = this.o;
    if (subscriber === undefined) throw new Error("OperatorChannel.subscribe needs a subscriber connection");
    subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const [kind, botId, arg] = message.split(" ");
      if (botId === undefined) return;
      if (kind === "retry" && Number.isSafeInteger(Number(arg))) onEvent({ kind, botId, updateId: Number(arg) });
      else if (kind === "drop") onEvent({ kind, botId });
      else if (kind === "campaign" && arg !== undefined) onEvent({ kind, botId, id: arg });
    });
    await subscriber.subscribe(this.channel);
  }

  /** Tells the running hosts; resolves with how many heard it. */
  publish(event: OperatorEvent): Promise<number> {
    const arg = event.kind === "retry" ? ` ${event.updateId}` : event.kind === "campaign" ? ` ${event.id}` : "";
    return this.o.redis.publish(this.channel, `${event.kind} ${event.botId}${arg}`);
  }
}
