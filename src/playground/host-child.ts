import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";

/** The CLI the host child runs (this package's own `bot-host start`). */
const CLI = fileURLToPath(new URL("../cli/main.js", import.meta.url));
/** Log lines kept in all, and per bot. */
const KEEP_LINES = 1000;
const KEEP_PER_BOT = 100;

/** Where the host child is in its life. */
export type HostState = "starting" | "running" | "stopping" | "killed" | "exited";

/** What the page shows of the host child. */
export interface HostStatus {
  state: HostState;
  pid: number | undefined;
  /** Port of the child's HTTP server (health, metrics) once it logged it. */
  port: number | undefined;
  /** Starts so far (1 after the first start). */
  starts: number;
  /** Exit code or signal of the last exit. */
  lastExit: string | undefined;
}

/** One log line of the host child (its JSON, or `{ msg }` for a line that was not JSON). */
export type HostLogLine = Record<string, unknown> & { msg?: string; bot?: string; level?: number; time?: number };

/**
 * The real host, run as a child process (`bot-host start --config <derived file>`), so that the page can restart it
 * gracefully (SIGTERM, wait for the exit, start again) or kill it hard (SIGKILL, start again) and the playground
 * stays up. Emits `status` (a {@link HostStatus}) and `line` (a {@link HostLogLine}).
 */
export class HostChild extends EventEmitter<{ status: [HostStatus]; line: [HostLogLine] }> {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly lines: HostLogLine[] = [];
  private readonly byBot = new Map<string, HostLogLine[]>();
  private current: HostStatus = { state: "exited", pid: undefined, port: undefined, starts: 0, lastExit: undefined };
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  /**
   * @param logLevel the child's level: `debug` by default, so that the page can show each update's lines; the
   *   playground's own log prints only what its level lets through.
   */
  constructor(
    private readonly configPath: string,
    private readonly env: Record<string, string>,
    private readonly logLevel = "debug",
  ) {
    super();
  }

  get status(): HostStatus {
    return { ...this.current };
  }

  /** The newest log lines of one bot (or of the host as a whole), oldest first. */
  recentLines(bot?: string, n = 50): HostLogLine[] {
    const list = bot === undefined ? this.lines : (this.byBot.get(bot) ?? []);
    return list.slice(-n);
  }

  /** Starts the child (if it is not running). */
  start(): Promise<void> {
    return this.serial(async () => this.spawn());
  }

  /** SIGTERM, wait for the host's graceful shutdown, start again. */
  restart(): Promise<void> {
    return this.serial(async () => {
      await this.signal(false);
      this.spawn();
    });
  }

  /** SIGKILL (no shutdown at all), start again. */
  kill(): Promise<void> {
    return this.serial(async () => {
      await this.signal(true);
      this.spawn();
    });
  }

  /** Stops the child gracefully for good. */
  stop(): Promise<void> {
    this.closed = true;
    return this.serial(async () => this.signal(false));
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private update(patch: Partial<HostStatus>): void {
    this.current = { ...this.current, ...patch };
    this.emit("status", this.status);
  }

  /** SIGKILL (`hard`), else the default SIGTERM, and waits for the exit. */
  private async signal(hard: boolean): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.update({ state: hard ? "killed" : "stopping" });
    if (hard) child.kill("SIGKILL");
    else child.kill();
    await this.exited;
  }

  private spawn(): void {
    if (this.closed) return;
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) return;
    // Its own process group: a Ctrl+C in the terminal reaches only the playground, which then stops the host in order.
    const child = spawn(process.execPath, [CLI, "start", "--config", this.configPath, "--log-level", this.logLevel], {
      env: this.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.child = child;
    const orphaned = (): void => void child.kill("SIGKILL"); // the playground ends without stopping it (a second signal)
    process.once("exit", orphaned);
    child.once("exit", () => process.off("exit", orphaned));
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        if (this.child === child)
          this.update({ state: "exited", pid: undefined, port: undefined, lastExit: signal ?? `exit code ${code}` });
        resolve();
      }),
    );
    this.update({ state: "starting", pid: child.pid, port: undefined, starts: this.current.starts + 1 });
    readLines(child.stdout!, (line) => this.onLine(line));
    readLines(child.stderr!, (line) => this.onLine(line));
  }

  private onLine(raw: string): void {
    if (raw.trim() === "") return;
    let line: HostLogLine;
    try {
      const parsed = JSON.parse(raw) as unknown;
      line = typeof parsed === "object" && parsed !== null ? (parsed as HostLogLine) : { msg: raw };
    } catch {
      line = { msg: raw, level: 50, time: Date.now() };
    }
    if (line.msg === "HTTP server listening" && typeof line.port === "number") this.update({ port: line.port });
    if (typeof line.msg === "string" && /bots are up$/.test(line.msg) && this.current.state === "starting")
      this.update({ state: "running" });
    push(this.lines, line, KEEP_LINES);
    if (typeof line.bot === "string") {
      let list = this.byBot.get(line.bot);
      if (list === undefined) this.byBot.set(line.bot, (list = []));
      push(list, line, KEEP_PER_BOT);
    }
    this.emit("line", line);
  }
}

function push<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

function readLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    partial += chunk;
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const p of parts) onLine(p);
  });
  stream.on("end", () => partial !== "" && onLine(partial));
}
