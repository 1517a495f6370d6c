import type { Logger } from "../logging/logger.js";
import { scrubValue } from "../logging/scrub.js";
import { ExitCodes } from "../errors.js";

/** What the coordinator stops. */
export interface Stoppable {
  /** Runs the whole ordered shutdown; rejects with an error carrying `cut` when the drain deadline passed. */
  stop(): Promise<void>;
  /** Updates in flight right now, per bot, for the report of a cut-short stop. */
  cutReport(): { total: number; bots: ReadonlyArray<{ bot: string; update_ids: number[] }> };
  /** Re-reads the config and applies the difference (SIGHUP). Must not throw. */
  reload?(trigger: string): Promise<unknown>;
  /** Records `error` against the updates running when an uncaught exception ended the process's work. */
  noteCrash?(error: unknown): Promise<void>;
}

/** How long the coordinator lets the target record a crash before it stops anyway. */
const NOTE_CRASH_MS = 1_000;

export { ExitCodes };

/** Options of {@link ShutdownCoordinator}. */
export interface ShutdownCoordinatorOptions {
  /** May be given later with {@link ShutdownCoordinator.useLogger}: the CLI owns the signals before it loads the logger. */
  logger?: Logger;
  /** Ends the process; tests replace it. */
  exit?: (code: number) => void;
  /** Where signal and process-error handlers are installed; tests replace it. */
  processLike?: Pick<NodeJS.Process, "on" | "off">;
}

type Signal = "SIGINT" | "SIGTERM";
type Fields = Record<string, unknown>;

/**
 * The one process-level owner of SIGINT, SIGTERM and SIGHUP, of uncaught errors, and of `process.exit` (no
 * other module installs such handlers or exits). SIGHUP asks the target to reload its config. The first SIGINT
 * or SIGTERM runs the target's ordered stop and exits 0; a second signal during it exits at once (130 for
 * SIGINT, 143 for SIGTERM) after logging the updates it cut off; a drain deadline or a failed stop step exits 1
 * after the same report. The journal keeps every cut update for the next start.
 *
 * An uncaught exception is a bug whose damage is unknown: it is logged with its stack and the target is
 * stopped in order (so writes in flight land and offsets are confirmed), then the process exits 1. An unhandled
 * promise rejection is logged and the host keeps running.
 */
export class ShutdownCoordinator {
  private target: Stoppable | undefined;
  private stopping = false;
  private failed = false;
  private logger: Logger | undefined;
  private readonly exitFn: (code: number) => void;
  private readonly proc: Pick<NodeJS.Process, "on" | "off">;
  private readonly onSignal = (signal: Signal): void => this.handle(signal);
  private readonly onHangup = (): void => {
    if (this.stopping || this.target?.reload === undefined) return;
    this.info({ signal: "SIGHUP" }, "received SIGHUP: reloading the config");
    void this.target.reload("SIGHUP");
  };
  private readonly onRejection = (reason: unknown): void => {
    this.error({ err: reason }, "unhandled promise rejection (a bug); the host keeps running");
  };
  private crash: unknown;
  private readonly onException = (err: unknown): void => {
    this.failed = true;
    this.error({ err }, "uncaught exception (a bug): stopping in order, then exiting 1");
    this.crash ??= err;
    this.shutdown(ExitCodes.RUNTIME, "uncaught exception");
  };

  constructor(options: ShutdownCoordinatorOptions = {}) {
    this.logger = options.logger?.child({ component: "shutdown" });
    this.exitFn = options.exit ?? ((code) => process.exit(code));
    this.proc = options.processLike ?? process;
  }

  /** Installs the handlers; signals before `watch()` exit at once with 0 (there is nothing to drain yet). */
  install(): void {
    this.proc.on("SIGINT", this.onSignal);
    this.proc.on("SIGTERM", this.onSignal);
    this.proc.on("SIGHUP", this.onHangup);
    this.proc.on("unhandledRejection", this.onRejection);
    this.proc.on("uncaughtException", this.onException);
  }

  /** Removes the handlers (tests; the CLI never needs to). */
  uninstall(): void {
    this.proc.off("SIGINT", this.onSignal);
    this.proc.off("SIGTERM", this.onSignal);
    this.proc.off("SIGHUP", this.onHangup);
    this.proc.off("unhandledRejection", this.onRejection);
    this.proc.off("uncaughtException", this.onException);
  }

  /** Gives the coordinator its logger once the CLI has loaded it. */
  useLogger(logger: Logger): void {
    this.logger = logger.child({ component: "shutdown" });
  }

  /** Sets what a signal stops. */
  watch(target: Stoppable): void {
    this.target = target;
  }

  /** True once a stop began. */
  get isStopping(): boolean {
    return this.stopping;
  }

  /** Stops the target as for a signal and exits with `code` (1 if the stop fails): for fatal errors. */
  shutdown(code: number, reason: string): void {
    if (code !== ExitCodes.OK) this.failed = true;
    if (this.stopping) return;
    this.stopping = true;
    this.info({ reason }, "shutting down");
    void this.runStop(code);
  }

  private handle(signal: Signal): void {
    if (this.stopping) {
      const cut = this.target?.cutReport() ?? { total: 0, bots: [] };
      this.error(
        { signal, cut_updates: cut.total, cut: cut.bots },
        `second ${signal}: exiting now; ${cut.total} update(s) cut off, the next start handles them`,
      );
      this.finish(signal === "SIGINT" ? ExitCodes.SIGINT : ExitCodes.SIGTERM);
      return;
    }
    this.stopping = true;
    this.info(
      { signal },
      this.target === undefined
        ? `received ${signal} while starting: nothing runs yet, exiting`
        : `received ${signal}: draining (send it again to exit at once)`,
    );
    void this.runStop(ExitCodes.OK);
  }

  private async runStop(code: number): Promise<void> {
    try {
      if (this.crash !== undefined) await this.noteCrash(this.crash);
      await this.target?.stop();
      const final = this.failed ? ExitCodes.RUNTIME : code;
      this.info({ exit_code: final }, "shutdown complete");
      this.finish(final);
    } catch (err) {
      const cut = (err as { cut?: ReturnType<Stoppable["cutReport"]> }).cut ?? this.target?.cutReport();
      this.error({ err, cut_updates: cut?.total, cut: cut?.bots }, err instanceof Error ? err.message : "shutdown failed");
      this.finish(ExitCodes.RUNTIME);
    }
  }

  /** Lets the target record the crash against the updates it was running, for at most a second. */
  private async noteCrash(err: unknown): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const noted = this.target
      ?.noteCrash?.(err)
      .catch((e: unknown) => this.error({ err: e }, "could not record the crash against the updates in flight"));
    await Promise.race([noted, new Promise((resolve) => (timer = setTimeout(resolve, NOTE_CRASH_MS)))]);
    clearTimeout(timer);
  }

  private info(fields: Fields, msg: string): void {
    if (this.logger !== undefined) this.logger.info(fields, msg);
    else this.fallback(30, fields, msg);
  }

  private error(fields: Fields, msg: string): void {
    if (this.logger !== undefined) this.logger.error(fields, msg);
    else this.fallback(50, fields, msg);
  }

  // Before the logger is loaded: one JSON line of the same shape on stderr, so nothing goes unsaid.
  private fallback(level: number, fields: Fields, msg: string): void {
    const err = fields.err instanceof Error ? { message: fields.err.message, stack: fields.err.stack } : fields.err;
    const line = scrubValue({ level, time: Date.now(), component: "shutdown", ...fields, ...(err === undefined ? {} : { err }), msg });
    process.stderr.write(`${JSON.stringify(line)}\n`);
  }

  private finish(code: number): void {
    if (this.logger === undefined) return this.exitFn(code);
    // Flush before the process ends so the last lines are not lost.
    this.logger.flush(() => this.exitFn(code));
  }
}
