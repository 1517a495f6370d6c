import type { Logger } from "../logging/logger.js";
import type { BotRegistry } from "../runtime/registry.js";
import type { DeadLetterChannel, DeadLetterEvent } from "../storage/dead-letter-channel.js";
import type { Component } from "./component.js";

/**
 * Acts on operators' dead-letter commands for the bots running here: a letter handed back runs at once on the
 * bot's owner, and the counts (readiness, metrics) follow retries and drops.
 */
export class DeadLetterWatch implements Component {
  readonly name = "dead-letter-watch";
  private readonly log: Logger;

  constructor(private readonly o: { channel: DeadLetterChannel; registry: BotRegistry; logger: Logger }) {
    this.log = o.logger.child({ component: "dead-letters" });
  }

  async start(): Promise<void> {
    await this.o.channel.subscribe((e) => void this.onEvent(e));
  }

  /** The subscription ends with its connection, which storage closes last. */
  async stop(): Promise<void> {}

  private async onEvent(e: DeadLetterEvent): Promise<void> {
    const runner = this.o.registry.get(e.botId);
    if (runner === undefined) return;
    try {
      if (e.kind === "retry" && !(await runner.retry(e.updateId))) {
        this.log.info(
          { bot: e.botId, update_id: e.updateId },
          "a dead letter was handed back while the bot does not run here; its next start runs it",
        );
      }
      await runner.recountDeadLetters();
    } catch (err) {
      this.log.warn({ err, bot: e.botId }, "could not act on a dead-letter command; the bot's next start picks it up");
    }
  }
}
