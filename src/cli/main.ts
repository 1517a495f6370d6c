#!/usr/bin/env node
// Every command imports its own module when it runs, so `--version`, `--help` and `check` never load what only
// `start` or `bench` need (grammY, undici, ioredis, prom-client, the fake Bot API). Keep the static imports of
// this file to commander and modules without dependencies: test/e2e/cli-lazy.test.ts checks what each command loads.
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { LOG_LEVELS, type LogLevel } from "../logging/levels.js";
import { ExitCodes } from "../errors.js";

const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };

const program = new Command()
  .name("bot-host")
  .description("Run many Telegram bots from one Node.js process, on one shared grammY app.")
  .version(pkg.version)
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) })
  .addHelpText(
    "after",
    "\nExit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage, 130/143 second SIGINT/SIGTERM during a drain.",
  );

program
  .command("start")
  .description("start every enabled bot of the config and run until SIGINT or SIGTERM")
  .requiredOption("-c, --config <file>", "path of bots.yaml")
  .addOption(new Option("--log-level <level>", "log level").choices(LOG_LEVELS))
  .option("--pretty", "human-readable logs instead of JSON lines")
  .action(async (opts: { config: string; logLevel?: LogLevel; pretty?: boolean }) => {
    const { runStart } = await import("./start.js");
    await runStart(opts);
  });

program
  .command("check")
  .description("validate the config and list its bots; with --online, call getMe for each bot")
  .requiredOption("-c, --config <file>", "path of bots.yaml")
  .option("--online", "check every enabled bot's token against the Bot API (in parallel)")
  .option("--explain <id>", "print that bot's effective settings (its own values over the top-level ones)")
  .action(async (opts: { config: string; online?: boolean; explain?: string }) => {
    const { runCheck } = await import("./check.js");
    process.exitCode = await runCheck(opts);
  });

program
  .command("reload")
  .description("make the running host re-read the config and apply the difference (bots added, removed, changed)")
  .requiredOption("-c, --config <file>", "path of bots.yaml (the host's http.listen is read from it)")
  .action(async (opts: { config: string }) => {
    const { runReload } = await import("./reload.js");
    process.exitCode = await runReload(opts);
  });

const count =
  (name: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number >= 1`);
    return n;
  };

program
  .command("bench")
  .description("load-test the config's app on simulated bots against a local fake Bot API")
  .requiredOption("-c, --config <file>", "path of bots.yaml (its app, app_config and polling settings are used)")
  .option("--bots <n>", "simulated bots", count("--bots"), 10)
  .option("--updates <n>", "updates to send in all", count("--updates"), 20_000)
  .option("--chats <n>", "chats the updates are spread over", count("--chats"), 1_000)
  .option("--redis <url>", "keep state in this Redis (a fresh key prefix) instead of in memory")
  .action(async (opts: { config: string; bots: number; updates: number; chats: number; redis?: string }) => {
    const { runBench } = await import("./bench.js");
    process.exitCode = await runBench(opts);
  });

program
  .command("migrate-keys")
  .description("rename the bots' Redis keys from an earlier version's layout to the current one (run once, every instance stopped)")
  .requiredOption("-c, --config <file>", "path of bots.yaml")
  .option("--dry-run", "only count what would move")
  .action(async (opts: { config: string; dryRun?: boolean }) => {
    const { runMigrateKeys } = await import("./migrate-keys.js");
    process.exitCode = await runMigrateKeys(opts);
  });

const updateId = (v: string): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("UPDATE_ID must be an update id (a whole number)");
  return n;
};

const deadLetters = program
  .command("dead-letters")
  .description("list the updates the bots set aside (crashed too often, or timed out); retry or drop them");
deadLetters
  .command("list", { isDefault: true })
  .description("list the dead letters (bot, update, chat, type, reason, attempts, when, error)")
  .requiredOption("-c, --config <file>", "path of bots.yaml")
  .option("--bot <id>", "only this bot's")
  .action(async (opts: { config: string; bot?: string }) => {
    const { runDeadLetters } = await import("./dead-letters.js");
    process.exitCode = await runDeadLetters(opts, { action: "list", bot: opts.bot });
  });
deadLetters
  .command("retry")
  .description("hand one back to its bot to run once more (set aside again if it fails again)")
  .argument("<bot>", "the bot's id")
  .argument("<update_id>", "the dead letter's update id", updateId)
  .requiredOption("-c, --config <file>", "path of bots.yaml")
  .action(async (bot: string, id: number, opts: { config: string }) => {
    const { runDeadLetters } = await import("./dead-letters.js");
    process.exitCode = await runDeadLetters(opts, { action: "retry", bot, updateId: id });
  });
deadLetters
  .command("drop")
  .description("drop one dead letter, or with --all every one of the bot")
  .argument("<bot>", "the bot's id")
  .argument("[update_id]", "the dead letter's update id", updateId)
  .requiredOption("-c, --config <file>", "path of bots.yaml")
  .option("--all", "every dead letter of the bot")
  .action(async (bot: string, id: number | undefined, opts: { config: string; all?: boolean }) => {
    if ((id === undefined) === (opts.all !== true)) {
      process.stderr.write("error: give either UPDATE_ID or --all\n");
      process.exitCode = ExitCodes.CONFIG;
      return;
    }
    const { runDeadLetters } = await import("./dead-letters.js");
    process.exitCode = await runDeadLetters(opts, { action: "drop", bot, updateId: id ?? "all" });
  });

const broadcast = program
  .command("broadcast")
  .description("send one message to every private chat that wrote to a bot (or to each of every bot), at Telegram's pace");
broadcast
  .command("send", { isDefault: true })
  .description("hand a campaign to the running host(s) and follow it until every recipient was tried")
  .requiredOption("-c, --config <file>", "path of bots.yaml")
  .option("--bot <id>", "the bot whose audience gets it")
  .option("--all", "every enabled bot's audience, each from its own bot")
  .requiredOption("--text <text>", "the message")
  .addOption(new Option("--parse-mode <mode>", "Telegram's formatting of the text").choices(["HTML", "MarkdownV2"]))
  .option("--detach", "return once the campaign is handed over")
  .action(
    async (opts: { config: string; bot?: string; all?: boolean; text: string; parseMode?: "HTML" | "MarkdownV2"; detach?: boolean }) => {
      if ((opts.bot === undefined) === (opts.all !== true)) {
        process.stderr.write("error: give either --bot ID or --all\n");
        process.exitCode = ExitCodes.CONFIG;
        return;
      }
      const { runBroadcast } = await import("./broadcast.js");
      process.exitCode = await runBroadcast(opts, {
        action: "send",
        bot: opts.bot,
        all: opts.all === true,
        text: opts.text,
        parseMode: opts.parseMode,
        detach: opts.detach === true,
      });
    },
  );
for (const action of ["status", "cancel"] as const) {
  broadcast
    .command(action)
    .description(
      action === "status" ? "list the campaigns (or one), with their counts" : "stop a running campaign (the one running, or ID)",
    )
    .argument("[id]", "a campaign id")
    .requiredOption("-c, --config <file>", "path of bots.yaml")
    .action(async (id: string | undefined, opts: { config: string }) => {
      const { runBroadcast } = await import("./broadcast.js");
      process.exitCode = await runBroadcast(opts, { action, id });
    });
}

program
  .command("playground")
  .description("run the config's bots against a local fake Bot API (no token, no network) and chat with them in a browser")
  .requiredOption("-c, --config <file>", "path of bots.yaml")
  .option("--listen <host:port>", "address of the page", "127.0.0.1:8080")
  .addOption(new Option("--log-level <level>", "log level").choices(LOG_LEVELS))
  .option("--pretty", "human-readable logs instead of JSON lines")
  .action(async (opts: { config: string; listen: string; logLevel?: LogLevel; pretty?: boolean }) => {
    const { runPlayground } = await import("./playground.js");
    process.exitCode = await runPlayground(opts);
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here with code 0; usage mistakes with 2.
    process.exitCode = err.exitCode === 0 ? ExitCodes.OK : ExitCodes.CONFIG;
  } else {
    throw err;
  }
}
