import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { Redis, type Cluster } from "ioredis";
import { expect } from "vitest";
import { loadConfig, type Config } from "../../src/config/index.js";
import { createLogger, type Logger } from "../../src/logging/logger.js";
import { Host } from "../../src/host/host.js";
import { createKeys } from "../../src/storage/keys.js";

/** A well-formed fake token for test bot `n` (never a real one). */
export function fakeToken(n: number): string {
  return `${100000 + n}:TEST${"x".repeat(27)}${String(n).padStart(4, "0")}`;
}

/** A key prefix no other test uses. */
export function uniquePrefix(): string {
  return `t${randomBytes(4).toString("hex")}:`;
}

/** Absolute path of a test fixture app. */
export function fixture(name: string): string {
  return resolve(import.meta.dirname, "../fixtures", name);
}

/** Writes `yaml` as bots.yaml in a fresh temp dir and returns its path. */
export function writeConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "bot-host-cfg-"));
  const path = join(dir, "bots.yaml");
  writeFileSync(path, yaml);
  return path;
}

/** A parsed JSON log line. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number; bot?: string };

/** A logger whose lines are kept in memory for assertions. */
export function memoryLogger(level: "info" | "debug" | "warn" = "info"): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({
    level,
    destination: {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  });
  return { logger, lines };
}

/** Options of {@link buildYaml}. */
export interface YamlOptions {
  apiRoot: string;
  redisUrl?: string;
  prefix?: string;
  app?: string;
  bots: Array<{ id: string; token: string; enabled?: boolean }>;
  extra?: string;
  appConfig?: string;
  /** The `http:` section; default listens on a free loopback port. */
  http?: string;
  /** The `limits:` section; by default the outgoing throttle is off (the fake Bot API has no limits). */
  limits?: string;
  /** The `leases:` section (with Redis); by default a 5 s TTL, so a restart after SIGKILL waits at most that long. */
  leases?: string;
}

/** A bots.yaml for tests (tokens inline: test files only). */
export function buildYaml(o: YamlOptions): string {
  const lines = [
    `app: ${o.app ?? fixture("counter-app.js")}`,
    `api_root: ${o.apiRoot}`,
    o.appConfig ?? "",
    o.redisUrl === undefined ? "" : `redis:\n  url: ${o.redisUrl}\n  key_prefix: "${o.prefix ?? uniquePrefix()}"`,
    o.redisUrl === undefined ? "" : (o.leases ?? "leases:\n  ttl: 5"),
    "polling:\n  timeout: 1",
    o.http ?? 'http:\n  listen: "127.0.0.1:0"',
    o.limits ?? "limits:\n  outgoing: { enabled: false }",
    o.extra ?? "",
    o.bots.length === 0 ? "bots: []" : "bots:",
    ...o.bots.map((b) => `  - id: ${b.id}\n    token: "${b.token}"${b.enabled === false ? "\n    enabled: false" : ""}`),
  ];
  return `${lines.filter((l) => l !== "").join("\n")}\n`;
}

/** Loads `yaml` through the real loader and starts a Host in this process. */
export async function startHost(yaml: string): Promise<{ host: Host; config: Config; lines: LogLine[] }> {
  const config = await loadConfig(writeConfig(yaml), {});
  const { logger, lines } = memoryLogger();
  const host = new Host(config, logger);
  await host.start();
  return { host, config, lines };
}

/**
 * Asserts that every chat's session (written by the counter app) counted exactly the updates sent to it:
 * `perChat` maps `<botId>:<chatId>` to the number sent. `redis` is a URL (a client is opened and closed here)
 * or a client of any topology.
 */
export async function expectSessionCounts(
  redis: string | Redis | Cluster,
  prefix: string,
  perChat: ReadonlyMap<string, number>,
): Promise<void> {
  const client = typeof redis === "string" ? new Redis(redis) : redis;
  const keys = createKeys(prefix);
  try {
    for (const [key, count] of perChat) {
      const colon = key.indexOf(":");
      if (colon <= 0) throw new Error(`expected <botId>:<chatId>, got ${JSON.stringify(key)}`);
      expect(JSON.parse((await client.get(keys.session(key.slice(0, colon), key.slice(colon + 1)))) ?? "null"), key).toEqual({ count });
    }
  } finally {
    if (typeof redis === "string") client.disconnect();
  }
}

/** Resolves once `check()` holds (checked every 20 ms); rejects naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
