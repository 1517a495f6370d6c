import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, inject, it } from "vitest";
import { CLI, CliProcess } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { buildYaml, fakeToken, fixture, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";

const redisUrl = inject("redisUrl");
const BOT = { id: "early", token: fakeToken(90) };
// Node itself catches SIGINT and SIGTERM from its first instant (and re-raises them if no JS handler exists),
// but not SIGHUP, which the shutdown coordinator installs together with them.
const SIGHUP_BIT = 1n; // signal 1

/** True once the shutdown coordinator's handlers are installed (Linux: the SigCgt mask in /proc/<pid>/status). */
function coordinatorInstalled(pid: number): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & SIGHUP_BIT) !== 0n;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("signals while `bot-host start` is starting (real CLI)", () => {
  let fake: LocalBotApi | undefined;
  const procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs) p.kill("SIGKILL");
    procs.length = 0;
    await fake?.stop();
  });
  const start = (config: string, env: Record<string, string> = {}): CliProcess => {
    const p = new CliProcess(["start", "--config", config], env);
    procs.push(p);
    return p;
  };

  it("SIGTERM 100 ms after the start (or as soon as the CLI owns the signal, if later) exits 0", async () => {
    fake = await LocalBotApi.start();
    fake.addBot(BOT.token);
    const config = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix: uniquePrefix(), bots: [BOT] }));
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const p = start(config);
      // Before the CLI's first line of code runs, no program can catch a signal: wait for that state, not a time.
      await until(() => coordinatorInstalled(p.pid), "the CLI to own the signals");
      const wait = 100 - (Date.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      p.kill("SIGTERM");
      const { code, signal } = await p.exited;
      expect({ code, signal, stderr: p.stderr }).toMatchObject({ code: 0, signal: null });
      expect(p.stderr).not.toContain("Error");
    }
  });

  it("SIGTERM while the app module loads stops what has started and exits 0", async () => {
    fake = await LocalBotApi.start();
    fake.addBot(BOT.token);
    const config = writeConfig(
      buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix: uniquePrefix(), bots: [BOT], app: fixture("slow-app.js") }),
    );
    const p = start(config, { BOT_HOST_TEST_APP_DELAY: "60000" });
    await p.waitForLog((l: LogLine) => l.msg === "HTTP server listening");
    p.kill("SIGTERM");
    expect(await p.exitCode()).toBe(0);
    expect(p.lines.map((l) => l.msg)).toContain("shutdown complete");
    expect(p.lines.find((l) => l.step === 5)).toMatchObject({ store: "redis" });
    expect(fake.calls(BOT.token)).toEqual([]); // no bot had started
  });
});

describe("the order of a start", () => {
  it("installs the signal handlers before it loads the config, the logger or the host", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bot-host-trace-"));
    const trace = join(dir, "trace.txt");
    const config = writeConfig(buildYaml({ apiRoot: "http://127.0.0.1:9", bots: [] }));
    const child = spawn(process.execPath, ["--import", pathToFileURL(fixture("trace-loads.mjs")).href, CLI, "start", "--config", config], {
      env: { PATH: process.env.PATH ?? "", BOT_HOST_TRACE: trace },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.resume();
    await until(() => out.includes("no enabled bots"), "the host to start");
    child.kill("SIGTERM");
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(0);
    const lines = readFileSync(trace, "utf8").split("\n");
    const signals = lines.indexOf("signals");
    expect(signals).toBeGreaterThan(0);
    const first = (pattern: RegExp): number => lines.findIndex((l) => pattern.test(l));
    for (const heavy of [
      /\/node_modules\/(grammy|ioredis|pino|valibot|yaml|undici|prom-client)\//,
      /\/dist\/src\/(host|config\/index|logging\/logger)\.js$/,
    ]) {
      const at = first(heavy);
      expect(at, `${heavy} was loaded`).toBeGreaterThan(0);
      expect(at, `${heavy} is loaded after the signal handlers`).toBeGreaterThan(signals);
    }
  });
});
