import type { Logger } from "../logging/logger.js";

/** What the coordinator stops. */
export interface Stoppable {
  /** Runs the whole ordered shutdown; rejects with an error carrying `cut` when the drain deadline passed. */
  stop(): Promise<void>;
  /** Updates in flight right now, per bot, for the report of a cut-short stop. */
  cutReport(): { total: number; bots: ReadonlyArray<{ bot: string; update_ids: number[] }> };
  /** Re-reads the config and applies the difference (SIGHUP). Must not throw. */
  reload?(trigger: string): Promise<unknown>;
}

/** Exit codes of the process (also documented in the README). */
export const ExitCodes = { OK: 0, RUNTIME: 1, CONFIG: 2, SIGINT: 130, SIGTERM: 143 } as const;

/** Options of {@link ShutdownCoordinator}. */
export interface ShutdownCoordinatorOptions {
  logger: Logger;
  /** Ends the process; tests replace it. */
  exit?: (code: number) => void;
  /** Where signal handlers are installed; tests replace it. */
  processLike?: Pick<NodeJS.Process, "on" | "off">;
}

type Signal = "SIGINT" | "SIGTERM";

/**
 * The one process-level owner of SIGINT, SIGTERM and SIGHUP (no other module installs signal handlers or calls
 * `process.exit`). SIGHUP asks the target to reload its config. The first SIGINT or SIGTERM runs the target's
 * ordered stop and exits 0; a second signal during it
 * exits at once (130 for SIGINT, 143 for SIGTERM) after logging the updates it cut off; a drain deadline
 * exits 1 after the same report. The journal keeps every cut update for the next start.
 */
export class ShutdownCoordinator {
  private target: Stoppable | undefined;
  private stopping = false;
  private readonly exitFn: (code: number) => void;
  private readonly proc: Pick<NodeJS.Process, "on" | "off">;
  private readonly log: Logger;
  private readonly onSignal = (signal: Signal): void => this.handle(signal);
  private readonly onHangup = (): void => {
    if (this.stopping || this.target?.reload === undefined) return;
    this.log.info({ signal: "SIGHUP" }, "received SIGHUP: reloading the config");
    void this.target.reload("SIGHUP");
  };
  private readonly onRejection = (reason: unknown): void => {
    this.log.error({ err: reason }, "unhandled promise rejection (a bug); the host keeps running");
  };

  constructor(private readonly options: ShutdownCoordinatorOptions) {
    this.log = options.logger.child({ component: "shutdown" });
    this.exitFn = options.exit ?? ((code) => process.exit(code));
    this.proc = options.processLike ?? process;
  }

  /** Installs the handlers; signals before `watch()` still exit cleanly (there is nothing to drain yet). */
  install(): void {
    this.proc.on("SIGINT", this.onSignal);
    this.proc.on("SIGTERM", this.onSignal);
    this.proc.on("SIGHUP", this.onHangup);
    this.proc.on("unhandledRejection", this.onRejection);
  }

  /** Removes the handlers (tests; the CLI never needs to). */
  uninstall(): void {
    this.proc.off("SIGINT", this.onSignal);
    this.proc.off("SIGTERM", this.onSignal);
    this.proc.off("SIGHUP", this.onHangup);
    this.proc.off("unhandledRejection", this.onRejection);
  }

  /** Sets what a signal stops. */
  watch(target: Stoppable): void {
    this.target = target;
  }

  /** True once a stop began. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** Stops the target as for a signal and exits with `code` (0 unless the stop fails): for fatal start errors. */
  shutdown(code: number, reason: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ reason }, "shutting down");
    void this.runStop(code);
  }

  private handle(signal: Signal): void {
    if (this.stopping) {
      const cut = this.target?.cutReport() ?? { total: 0, bots: [] };
      this.log.error({ signal, cut_updates: cut.total, cut: cut.bots }, `second ${signal}: exiting now; ${cut.total} update(s) cut off, the next start handles them`);
      this.finish(signal === "SIGINT" ? ExitCodes.SIGINT : ExitCodes.SIGTERM);
      return;
    }
    this.stopping = true;
    this.log.info({ signal }, `received ${signal}: draining (send it again to exit at once)`);
    void this.runStop(ExitCodes.OK);
  }

  private async runStop(code: number): Promise<void> {
    try {
      await this.target?.stop();
      this.log.info({ exit_code: code }, "shutdown complete");
      this.finish(code);
    } catch (err) {
      const cut = (err as { cut?: ReturnType<Stoppable["cutReport"]> }).cut ?? this.target?.cutReport();
      this.log.error({ err, cut_updates: cut?.total, cut: cut?.bots }, err instanceof Error ? err.message : "shutdown failed");
      this.finish(ExitCodes.RUNTIME);
    }
  }

  private finish(code: number): void {
    // pino writes asynchronously: flush before the process ends so the last lines are not lost.
    this.options.logger.flush(() => this.exitFn(code));
  }
}
