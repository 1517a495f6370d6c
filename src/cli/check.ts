import { loadConfig, redactToken, redactUrl, type Config } from "../config/index.js";
import { ExitCodes } from "../errors.js";
import { toGrammySignal } from "../runtime/signal.js";
import { reportError } from "./print.js";

/** `bot-host check`: validates the config, lists the bots, and with `online` checks each token with getMe. */
export async function runCheck(opts: { config: string; online?: boolean }): Promise<number> {
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
        const api = new Api(b.token, { apiRoot: config.api_root, fetch: transport.fetch as never });
        try {
          const me = await api.getMe(toGrammySignal(AbortSignal.timeout(10_000)));
          return { id: b.id, ok: true, text: `ok, @${me.username}` };
        } catch (err) {
          const text =
            err instanceof GrammyError && err.error_code === 401
              ? "token rejected (401 Unauthorized): check it with @BotFather"
              : err instanceof GrammyError
                ? `Bot API error ${err.error_code}`
                : `cannot reach the Bot API at ${config.api_root}`;
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
