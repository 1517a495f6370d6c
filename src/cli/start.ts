import { loadConfig, type Config } from "../config/index.js";
import { createLogger, type LogLevel } from "../logging/logger.js";
import { ExitCodes, ShutdownCoordinator } from "../lifecycle/shutdown-coordinator.js";
import { Host } from "../host.js";
import { reportError } from "./print.js";

/**
 * `bot-host start`: validates the config (exit 2 on problems), installs the one shutdown coordinator, starts
 * the host, and leaves the process running until a signal. Exits 1 when no enabled bot could start.
 */
export async function runStart(opts: { config: string; logLevel?: LogLevel; pretty?: boolean }): Promise<void> {
  let config: Config;
  try {
    config = await loadConfig(opts.config);
  } catch (err) {
    process.exitCode = reportError(err);
    return;
  }
  const logger = createLogger({ level: opts.logLevel ?? "info", pretty: opts.pretty ?? process.stdout.isTTY === true });
  const coordinator = new ShutdownCoordinator({ logger });
  coordinator.install();
  const host = new Host(config, logger, { configPath: opts.config });
  coordinator.watch(host);
  try {
    const report = await host.start();
    if (report.enabled > 0 && report.running.length === 0 && !coordinator.isStopping) {
      logger.error({ not_running: report.notRunning }, "no bot could start; exiting");
      coordinator.shutdown(ExitCodes.RUNTIME, "no bot could start");
    }
  } catch (err) {
    logger.error({ err }, err instanceof Error ? err.message : "start failed");
    reportError(err);
    coordinator.shutdown(ExitCodes.RUNTIME, "start failed");
  }
}
