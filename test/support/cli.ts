import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import type { LogLine } from "./harness.js";

/** Path of the built CLI (npm test builds first). */
export const CLI = resolve(import.meta.dirname, "../../dist/src/cli/main.js");

/** A running `bot-host` child process with its output collected. */
export class CliProcess {
  readonly lines: LogLine[] = [];
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let partial = "";
    this.child.stdout?.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      this.stdout += text;
      partial += text;
      const parts = partial.split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          // not a log line (plain CLI output)
        }
      }
    });
    this.child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((res) => this.child.once("exit", (code, signal) => res({ code, signal })));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves with the first log line matching `pred`; rejects with the output so far after `timeoutMs`. */
  async waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    const t0 = Date.now();
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit !== undefined) return hit;
      if (this.child.exitCode !== null)
        throw new Error(`CLI exited (${this.child.exitCode}) before the log line:\n${this.stdout}\n${this.stderr}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for a log line:\n${this.stdout.slice(-4000)}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the exit and returns the code. */
  async exitCode(timeoutMs = 20_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const res = await Promise.race([
      this.exited,
      new Promise<never>((_, rej) => {
        timer = setTimeout(() => {
          this.child.kill("SIGKILL");
          rej(new Error(`CLI did not exit within ${timeoutMs} ms:\n${this.stdout.slice(-4000)}\n${this.stderr}`));
        }, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return res.code;
  }
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = new CliProcess(args, env);
  const code = await p.exitCode();
  return { code, stdout: p.stdout, stderr: p.stderr };
}

/** The bots a CLI owns by lease now, from its log: taken, and not handed over or lost since. */
export function owns(p: CliProcess): string[] {
  const owned = new Set<string>();
  for (const l of p.lines) {
    if (typeof l.bot !== "string") continue;
    if (l.msg === "took the lease of this bot; starting it here") owned.add(l.bot);
    if (
      l.msg === "handed this bot over: drained, offset confirmed, lease released" ||
      (typeof l.msg === "string" && l.msg.startsWith("lost the lease"))
    )
      owned.delete(l.bot);
  }
  return [...owned].sort();
}
