import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { CliProcess, runCli } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { freePort } from "../support/redis-server.js";
import { buildYaml, fakeToken, fixture, writeConfig, type LogLine } from "../support/harness.js";

// Which modules each command loads, read from the real CLI: test/fixtures/trace-loads.mjs (preloaded through
// NODE_OPTIONS) writes every module URL the process resolves (import or require) to a file. Every import of bot-host's own (ESM)
// code is seen, so a dependency or module imported from anywhere in bot-host shows up here.
const ROOT = resolve(import.meta.dirname, "../..");
const PRELOAD = `--import=${pathToFileURL(fixture("trace-loads.mjs")).href}`;
const HEAVY = [
  "grammy",
  "@grammyjs/runner",
  "@grammyjs/ratelimiter",
  "undici",
  "ioredis",
  "valibot",
  "yaml",
  "pino",
  "prom-client",
  "bottleneck",
];
/** The local Bot API (src/local-api) and the benchmark code (`bot-host bench`, bench/). */
const TEST_AND_BENCH = [/\/dist\/src\/local-api\//, /\/dist\/src\/cli\/bench\.js$/, /\/bench\//];

function traceFile(): string {
  return join(mkdtempSync(join(tmpdir(), "bot-host-loads-")), "trace.txt");
}

/** The module URLs a traced run resolved. */
function loaded(trace: string): string[] {
  return readFileSync(trace, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("load "))
    .map((l) => l.slice("load ".length));
}

/** The packages among `names` that were loaded. */
function packagesIn(urls: string[], names: string[]): string[] {
  return names.filter((n) => urls.some((u) => u.includes(`/node_modules/${n}/`)));
}

const matching = (urls: string[], patterns: RegExp[]): string[] => urls.filter((u) => patterns.some((p) => p.test(u)));

async function traced(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string; urls: string[] }> {
  const trace = traceFile();
  const r = await runCli(args, { ...env, NODE_OPTIONS: PRELOAD, BOT_HOST_TRACE: trace });
  return { ...r, urls: loaded(trace) };
}

describe("each CLI command loads only what it needs (real CLI, module loads traced)", () => {
  let fake: LocalBotApi | undefined;
  const procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) p.kill("SIGKILL");
    await fake?.stop();
    fake = undefined;
  });

  it("--version and --help load commander and no heavy dependency, no command module", async () => {
    for (const args of [["--version"], ["--help"]]) {
      const r = await traced(args);
      expect(r.code).toBe(0);
      // the trace works: the entry point and commander are in it
      expect(r.urls.some((u) => u.endsWith("/dist/src/cli/main.js"))).toBe(true);
      expect(packagesIn(r.urls, ["commander"])).toEqual(["commander"]);
      expect(packagesIn(r.urls, HEAVY)).toEqual([]);
      expect(
        matching(r.urls, [/\/dist\/src\/(host|config\/index|logging\/logger)\.js$/, /\/dist\/src\/cli\/(start|check|reload|bench)\.js$/]),
      ).toEqual([]);
    }
  });

  it("check loads the config module (yaml, valibot) and neither grammY, the transport, Redis, metrics, the logger nor the fake Bot API", async () => {
    const r = await traced(["check", "--config", resolve(ROOT, "bots.yaml")], {
      SUPPORT_BOT_TOKEN: fakeToken(1),
      SALES_BOT_TOKEN: fakeToken(2),
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(packagesIn(r.urls, HEAVY)).toEqual(["valibot", "yaml"]);
    expect(matching(r.urls, [...TEST_AND_BENCH, /\/dist\/src\/host\.js$/])).toEqual([]);
  });

  it("start and reload never load the fake Bot API or the bench code", async () => {
    fake = await LocalBotApi.start();
    const bot = { id: "lazy", token: fakeToken(70) };
    fake.addBot(bot.token);
    const port = await freePort();
    const config = writeConfig(buildYaml({ apiRoot: fake.apiRoot, bots: [bot], http: `http:\n  listen: "127.0.0.1:${port}"` }));
    const startTrace = traceFile();
    const host = new CliProcess(["start", "--config", config], { NODE_OPTIONS: PRELOAD, BOT_HOST_TRACE: startTrace });
    procs.push(host);
    await host.waitForLog((l: LogLine) => l.msg === "all bots are up");

    const reload = await traced(["reload", "--config", config]);
    expect(reload.stderr).toBe("");
    expect(reload.code).toBe(0);
    expect(reload.stdout).toMatch(/^reloaded: added none; removed none; restarted none; unchanged 1/);
    // reload validates the file and sends one request: no grammY, no undici, no Redis, no host
    expect(packagesIn(reload.urls, HEAVY)).toEqual(["valibot", "yaml"]);
    expect(matching(reload.urls, [...TEST_AND_BENCH, /\/dist\/src\/host\.js$/])).toEqual([]);

    host.kill("SIGTERM");
    expect(await host.exitCode()).toBe(0);
    const started = loaded(startTrace);
    expect(started.some((u) => u.endsWith("/dist/src/host/host.js"))).toBe(true); // the trace saw the host load
    expect(matching(started, TEST_AND_BENCH)).toEqual([]);
    expect(matching(started, [/\/dist\/src\/cli\/(check|reload)\.js$/])).toEqual([]);
  });
});
