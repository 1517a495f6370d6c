import type { Redis } from "ioredis";
import type { KeyBuilder } from "./keys.js";

/** An operator's command about a bot's dead letters, heard by every running host. */
export type DeadLetterEvent =
  { readonly kind: "retry"; readonly botId: string; readonly updateId: number } | { readonly kind: "drop"; readonly botId: string };

/**
 * The pub/sub channel on which `bot-host dead-letters` tells the running hosts what it did: a letter handed back
 * to run once more (the bot's owner runs it at once) or letters dropped (counts change). A message nobody hears
 * loses nothing: a retried letter is in the bot's journal, and its next start replays it.
 */
export class DeadLetterChannel {
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
    this.channel = o.keys.deadLetterChannel();
  }

  /** Listens for events; each is passed to `onEvent`. */
  async subscribe(onEvent: (event: DeadLetterEvent) => void): Promise<void> {
    const { subscriber } = this.o;
    if (subscriber === undefined) throw new Error("DeadLetterChannel.subscribe needs a subscriber connection");
    subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const [kind, botId, id] = message.split(" ");
      if (kind === "retry" && botId !== undefined && Number.isSafeInteger(Number(id))) onEvent({ kind, botId, updateId: Number(id) });
      else if (kind === "drop" && botId !== undefined) onEvent({ kind, botId });
    });
    await subscriber.subscribe(this.channel);
  }

  /** Tells the running hosts; resolves with how many heard it. */
  publish(event: DeadLetterEvent): Promise<number> {
    const message = event.kind === "retry" ? `retry ${event.botId} ${event.updateId}` : `drop ${event.botId}`;
    return this.o.redis.publish(this.channel, message);
  }
}
