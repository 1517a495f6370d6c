import type { LogLevel } from "../logging/levels.js";
import { collectStartGarbage, holdYoungGeneration } from "../host/start-garbage.js";
import { limitHeapGrowth } from "../host/heap-growth.js";
import { holdOptimizingCompilers } from "../host/start-compilers.js";
import { deferGrammyDefaultFetch } from "../transport/grammy-fetch.js";
import { ExitCodes, ShutdownCoordinator } from "../lifecycle/shutdown-coordinator.js";

/**
 * `bot-host start`: owns SIGINT/SIGTERM first (before anything heavy is loaded, so a signal during start never
 * meets the default action), validates the config (exit 2 on problems), starts the host, and leaves the
 * process running until a signal. A signal while starting stops what has started and exits 0. Exits 1 when no
 * enabled bot could start. While it starts, V8's young generation is kept at its initial size (for three seconds at
 * most) and its optimizing compilers are kept out (for one second at most); its old generation may grow to 1.7 times
 * what is live, grammY's default transport (never used by the host) is loaded only if an app uses it, and once the
 * bots are up the garbage of their start is collected (see `holdYoungGeneration`, `holdOptimizingCompilers`,
 * `limitHeapGrowth`, `deferGrammyDefaultFetch` and `collectStartGarbage`).
 */
export async function runStart(opts: { config: string; logLevel?: LogLevel; pretty?: boolean }): Promise<void> {
  const coordinator = new ShutdownCoordinator();
  coordinator.install();
  const releaseYoungGeneration = holdYoungGeneration();
  const releaseCompilers = holdOptimizingCompilers();
  limitHeapGrowth();
  deferGrammyDefaultFetch();
  const [{ loadConfig }, { createLogger }, { reportError }] = await Promise.all([
    import("../config/index.js"),
    import("../logging/logger.js"),
    import("./print.js"),
  ]);
  const logger = createLogger({ level: opts.logLevel ?? "info", pretty: opts.pretty ?? process.stdout.isTTY === true });
  coordinator.useLogger(logger);
  let config;
  try {
    config = await loadConfig(opts.config);
  } catch (err) {
    process.exitCode = reportError(err);
    return;
  }
  if (coordinator.isStopping) return;
  const { Host } = await import("../host/host.js");
  if (coordinator.isStopping) return;
  const host = new Host(config, logger, { configPath: opts.config });
  coordinator.watch(host);
  try {
    const report = await host.start();
    if (!coordinator.isStopping) {
      const ms = collectStartGarbage();
      logger.debug({ ms: ms === undefined ? undefined : Math.round(ms) }, "collected what the start left behind");
    }
    releaseYoungGeneration();
    releaseCompilers();
    // Standing by for bots other instances own is healthy; only a host that runs nothing it could run exits.
    if (report.enabled > 0 && report.running.length === 0 && report.standby.length === 0 && !coordinator.isStopping) {
      logger.error({ not_running: report.notRunning }, "no bot could start; exiting");
      coordinator.shutdown(ExitCodes.RUNTIME, "no bot could start");
    }
  } catch (err) {
    if (coordinator.isStopping) return;
    logger.error({ err }, err instanceof Error ? err.message : "start failed");
    reportError(err);
    coordinator.shutdown(ExitCodes.RUNTIME, "start failed");
  }
}
