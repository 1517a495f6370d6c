import { CliProcess } from "./cli.js";
import type { LogLine } from "./harness.js";

/**
 * Runs `bot-host` the way systemd, Docker's `restart: always` or Kubernetes do: whenever the process exits, it
 * is started again at once, until {@link stop}.
 */
export class Supervisor {
  /** Every process started, in order. */
  readonly runs: CliProcess[] = [];
  /** The exit code of each run that ended. */
  readonly exits: Array<number | null> = [];
  private stopped = false;

  constructor(
    private readonly args: string[],
    private readonly env: Record<string, string> = {},
  ) {
    this.spawn();
  }

  private spawn(): void {
    const run = new CliProcess(this.args, this.env);
    this.runs.push(run);
    void run.exited.then(({ code }) => {
      this.exits.push(code);
      if (!this.stopped) this.spawn();
    });
  }

  /** The process running now (or the last one). */
  get current(): CliProcess {
    return this.runs[this.runs.length - 1]!;
  }

  /** The log lines of every run, in order. */
  lines(): LogLine[] {
    return this.runs.flatMap((r) => r.lines);
  }

  /** Stops restarting, sends SIGTERM to the running process and returns its exit code. */
  async stop(): Promise<number | null> {
    this.stopped = true;
    const run = this.current;
    run.kill("SIGTERM");
    return run.exitCode(30_000);
  }
}
