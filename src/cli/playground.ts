import type { LogLevel } from "../logging/levels.js";
import { ExitCodes, ShutdownCoordinator } from "../lifecycle/shutdown-coordinator.js";

/** Options of `bot-host playground`. */
export interface PlaygroundCliOptions {
  config: string;
  listen: string;
  logLevel?: LogLevel;
  pretty?: boolean;
}

/**
 * `bot-host playground`: runs every enabled bot of the file on the real host (a child process) against a local
 * fake Bot API and serves a page to chat with them as simulated users. The shutdown coordinator owns the signals:
 * the first SIGINT/SIGTERM stops the host child gracefully, then the fake Bot API and the session's own Redis, and
 * exits 0; a second one exits at once (what still runs is killed). Returns 2 for a bad file or `--listen`, 1 when
 * the playground could not start, else 0 once it runs.
 */
export async function runPlayground(opts: PlaygroundCliOptions): Promise<number> {
  const coordinator = new ShutdownCoordinator();
  coordinator.install();
  const [{ createLogger }, { reportError }, { parseListen }] = await Promise.all([
    import("../logging/logger.js"),
    import("./print.js"),
    import("../config/listen.js"),
  ]);
  const logger = createLogger({ level: opts.logLevel ?? "info", pretty: opts.pretty ?? process.stdout.isTTY === true });
  coordinator.useLogger(logger);
  logger.info(
    "playground: the bots run against a local Bot API on 127.0.0.1; nothing is sent to Telegram or any other network, and every token is replaced by a generated local one",
  );
  let listen: { host: string; port: number };
  try {
    listen = parseListen(opts.listen);
  } catch {
    process.stderr.write(`--listen must be host:port (e.g. 127.0.0.1:8080), got ${opts.listen}\n`);
    return ExitCodes.CONFIG;
  }
  const { Playground } = await import("../playground/playground.js");
  let playground;
  try {
    playground = await Playground.start({ config: opts.config, listen, logger });
  } catch (err) {
    if (coordinator.isStopping) return ExitCodes.OK;
    return reportError(err);
  }
  const running = playground;
  coordinator.watch({
    async stop() {
      logger.info("playground stopping: the host (gracefully), the local Bot API, the session's Redis");
      await running.stop();
    },
    cutReport: () => ({ total: 0, bots: [] }), // the host child reports its own
  });
  if (coordinator.isStopping) {
    await running.stop();
    return ExitCodes.OK;
  }
  logger.info({ url: running.url }, `playground ready: open ${running.url}`);
  return ExitCodes.OK;
}
