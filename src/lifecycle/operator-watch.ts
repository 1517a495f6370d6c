import type { Logger } from "../logging/logger.js";
import type { BotRegistry } from "../runtime/registry.js";
import type { OperatorChannel, OperatorEvent } from "../storage/operator-channel.js";
import type { Component } from "./component.js";

/**
 * Acts on operators' commands for the bots running here: a dead letter handed back runs at once on the bot's
 * owner, the counts (readiness, metrics) follow retries and drops, and a created or cancelled broadcast
 * campaign is looked at at once.
 */
export class OperatorWatch implements Component {
  readonly name = "operator-watch";
  private readonly log: Logger;

  constructor(private readonly o: { channel: OperatorChannel; registry: BotRegistry; logger: Logger }) {
    this.log = o.logger.child({ component: "operators" });
  }

  async start(): Promise<void> {
    await this.o.channel.subscribe((e) => void this.onEvent(e));
  }

  /** The subscription ends with its connection, which storage closes last. */
  async stop(): Promise<void> {}

  private async onEvent(e: OperatorEvent): Promise<void> {
    const runner = this.o.registry.get(e.botId);
    if (runner === undefined) return;
    try {
      if (e.kind === "campaign") {
        runner.pokeBroadcasts();
        return;
      }
      if (e.kind === "retry" && !(await runner.retry(e.updateId))) {
        this.log.info(
          { bot: e.botId, update_id: e.updateId },
          "a dead letter was handed back while the bot does not run here; its next start runs it",
        );
      }
      await runner.recountDeadLetters();
    } catch (err) {
      this.log.warn({ err, bot: e.botId }, "could not act on an operator's command; the bot's next start picks it up");
    }
  }
}
