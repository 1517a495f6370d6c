import { stringify } from "yaml";
import { loadConfig, redactToken, redactUrl, type BotConfig, type Config } from "../config/index.js";
import { resolveSettings } from "../config/settings.js";
import { ExitCodes } from "../errors.js";
import { toGrammySignal } from "../runtime/signal.js";
import { reportError } from "./print.js";

/**
 * `bot-host check`: validates the config, lists the bots, with `explain` prints one bot's effective settings, and
 * with `online` checks each token with getMe.
 */
export async function runCheck(opts: { config: string; online?: boolean; explain?: string }): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(opts.config);
  } catch (err) {
    return reportError(err);
  }
  const enabled = config.bots.filter((b) => b.enabled);
  const state = config.redis === undefined ? "state in memory (no Redis)" : `state in Redis at ${redactUrl(config.redis.url)}`;
  process.stdout.write(`${opts.config} is valid: ${config.bots.length} bot(s), ${enabled.length} enabled; ${state}\n`);
  const width = Math.max(2, ...config.bots.map((b) => b.id.length));
  for (const b of config.bots) {
    process.stdout.write(`  ${b.id.padEnd(width)}  ${redactToken(b.token)}  ${b.mode}  ${b.enabled ? "enabled" : "disabled"}\n`);
  }
  if (opts.explain !== undefined) {
    const bot = config.bots.find((b) => b.id === opts.explain);
    if (bot === undefined) {
      process.stderr.write(`${opts.config}: no bot "${opts.explain}" (bots: ${config.bots.map((b) => b.id).join(", ")})\n`);
      return ExitCodes.CONFIG;
    }
    process.stdout.write(explainBot(config, bot));
  }
  if (opts.online !== true) return ExitCodes.OK;

  // Only --online talks to the Bot API: grammY and the transport (undici) load here, not for every check.
  const [{ Api, GrammyError }, { createSharedTransport }] = await Promise.all([
    import("grammy"),
    import("../transport/shared-transport.js"),
  ]);
  const transport = createSharedTransport({ connections: Math.min(64, Math.max(1, enabled.length)) });
  try {
    const results = await Promise.all(
      enabled.map(async (b) => {
        const api = new Api(b.token, { apiRoot: b.api_root ?? config.api_root, fetch: transport.fetch as never });
        try {
          const me = await api.getMe(toGrammySignal(AbortSignal.timeout(10_000)));
          return { id: b.id, ok: true, text: `ok, @${me.username}` };
        } catch (err) {
          const text =
            err instanceof GrammyError && err.error_code === 401
              ? "token rejected (401 Unauthorized): check it with @BotFather"
              : err instanceof GrammyError
                ? `Bot API error ${err.error_code}`
                : `cannot reach the Bot API at ${b.api_root ?? config.api_root}`;
          return { id: b.id, ok: false, text };
        }
      }),
    );
    for (const r of results) process.stdout.write(`  ${r.id.padEnd(width)}  ${r.text}\n`);
    const bad = results.filter((r) => !r.ok).length;
    process.stdout.write(bad === 0 ? `all ${results.length} token(s) work\n` : `${bad} of ${results.length} token(s) do not work\n`);
    return bad === 0 ? ExitCodes.OK : ExitCodes.RUNTIME;
  } finally {
    await transport.destroy();
  }
}

/** One bot's effective settings in bots.yaml's terms (seconds, snake_case), and which of them the bot sets itself. */
function explainBot(config: Config, bot: BotConfig): string {
  const b = resolveSettings(config).bots.find((x) => x.id === bot.id)!;
  const { outgoing, incoming, retry } = b.limits;
  const effective = {
    id: b.id,
    token: redactToken(b.token),
    enabled: b.enabled,
    mode: b.mode,
    api_root: b.apiRoot,
    allowed_updates: b.allowedUpdates ?? "Telegram's default",
    app_config: b.appConfig,
    polling: { limit: b.polling.limit, timeout: b.polling.timeoutMs / 1000, concurrency: b.polling.concurrency },
    webhook: { url: b.webhook.url ?? "not set here (webhook.public_url)", max_connections: b.webhook.maxConnections, secret: "***" },
    limits: {
      retry: { max_attempts: retry.maxAttempts, max_delay: retry.maxDelayMs / 1000 },
      outgoing:
        outgoing === undefined
          ? { enabled: false }
          : {
              enabled: true,
              per_bot: outgoing.perBotPerSecond,
              per_chat: outgoing.perChatPerSecond,
              per_group: outgoing.perGroupPerMinute,
            },
      incoming:
        incoming === undefined ? { enabled: false } : { enabled: true, per_user: incoming.perUser, window: incoming.windowMs / 1000 },
    },
  };
  const own = [
    ...(bot.api_root === undefined ? [] : ["api_root"]),
    ...(bot.app_config === undefined ? [] : ["app_config (merged over the top level)"]),
    ...Object.keys(bot.polling ?? {}).map((k) => `polling.${k}`),
    ...Object.keys(bot.limits?.outgoing ?? {}).map((k) => `limits.outgoing.${k}`),
    ...Object.keys(bot.limits?.incoming ?? {}).map((k) => `limits.incoming.${k}`),
  ];
  const source =
    own.length === 0 ? "every value from the top level" : `set by the bot itself: ${own.join(", ")}; the rest from the top level`;
  return `\nbot ${b.id}, as it runs (${source}):\n${stringify(effective, { indent: 2 }).replace(/^/gm, "  ").trimEnd()}\n`;
}
