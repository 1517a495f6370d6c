import type { HostSettings } from "../config/settings.js";
import { ExitCodes } from "../errors.js";
import type { OperatorChannel } from "../storage/operator-channel.js";
import type { DeadLetter } from "../storage/dead-letters.js";
import type { RedisDeadLetters } from "../storage/redis-dead-letters.js";
import { operatorSettings, withOperatorRedis } from "./operator-redis.js";

/** What `bot-host dead-letters` was asked to do. */
export type DeadLetterCommand =
  | { readonly action: "list"; readonly bot?: string | undefined }
  | { readonly action: "retry"; readonly bot: string; readonly updateId: number }
  | { readonly action: "drop"; readonly bot: string; readonly updateId: number | "all" };

/**
 * `bot-host dead-letters`: lists the updates the bots set aside (from Redis, so it works while the host is down
 * or crash-looping), hands one back to its bot to run once more, or drops them. Running hosts are told on
 * Redis' `operators` channel.
 */
export async function runDeadLetters(opts: { config: string }, command: DeadLetterCommand): Promise<number> {
  const settings = await operatorSettings(
    opts.config,
    "dead letters then live in the host process only (their count per bot is in /readyz, each one is in the log at error level); this command reads them from Redis",
  );
  if (typeof settings === "number") return settings;
  const known = new Set(settings.bots.map((b) => b.id));
  const { bot } = command;
  if (bot !== undefined && !known.has(bot)) {
    process.stderr.write(`${opts.config}: no bot "${bot}" (bots: ${[...known].join(", ")})\n`);
    return ExitCodes.CONFIG;
  }
  const { RedisDeadLetters } = await import("../storage/redis-dead-letters.js");
  return withOperatorRedis(settings, "the dead letters", async ({ redis, keys, channel }) => {
    const letters = new RedisDeadLetters(redis, keys);
    switch (command.action) {
      case "list": {
        const ids = command.bot === undefined ? [...known] : [command.bot];
        const all = (await Promise.all(ids.map((id) => letters.list(id)))).flat();
        printList(all);
        return ExitCodes.OK;
      }
      case "retry":
        return await retry(settings, letters, channel, command.bot, command.updateId);
      case "drop": {
        const n = await letters.drop(command.bot, command.updateId);
        if (n > 0) await channel.publish({ kind: "drop", botId: command.bot });
        process.stdout.write(`dropped ${n} dead letter(s) of bot ${command.bot}\n`);
        return n > 0 || command.updateId === "all" ? ExitCodes.OK : ExitCodes.RUNTIME;
      }
    }
  });
}

async function retry(
  settings: HostSettings,
  letters: RedisDeadLetters,
  channel: OperatorChannel,
  bot: string,
  updateId: number,
): Promise<number> {
  if (!(await letters.retry(bot, updateId, settings.updates.maxAttempts))) {
    process.stderr.write(`bot ${bot} has no dead letter ${updateId} (list them with \`bot-host dead-letters --bot ${bot}\`)\n`);
    return ExitCodes.RUNTIME;
  }
  const heard = await channel.publish({ kind: "retry", botId: bot, updateId });
  process.stdout.write(
    heard > 0
      ? `handed update ${updateId} back to bot ${bot}: its owner runs it once more now (if it fails again, it is set aside again)\n`
      : `handed update ${updateId} back to bot ${bot}: no running host heard it, so the bot's next start runs it once more\n`,
  );
  return ExitCodes.OK;
}

/** One row per dead letter: bot, update id, chat, type, reason, attempts, when, the error's first line. */
function printList(letters: readonly DeadLetter[]): void {
  if (letters.length === 0) {
    process.stdout.write("no dead letters\n");
    return;
  }
  const rows = letters.map((l) => {
    const { update_id: id, ...rest } = l.update;
    const type = Object.keys(rest)[0] ?? "unknown";
    const body = (rest as Record<string, { chat?: { id?: number }; message?: { chat?: { id?: number } }; from?: { id?: number } }>)[type];
    const chat = body?.chat?.id ?? body?.message?.chat?.id ?? body?.from?.id;
    return [
      l.botId,
      String(id),
      chat === undefined ? "-" : String(chat),
      type,
      l.reason,
      String(l.attempts),
      new Date(l.at).toISOString(),
      l.error.split("\n")[0] ?? "",
    ];
  });
  const header = ["bot", "update", "chat", "type", "reason", "attempts", "when", "error"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  process.stdout.write(`${[line(header), ...rows.map(line)].join("\n")}\n`);
}
