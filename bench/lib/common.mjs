// Shared helpers of the benchmark scripts: flags, formatting, tables, tokens, the machine description.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, freemem, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { createServer } from "node:net";

/** The repository root (bench/lib/../..). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The bench app both sides run: reads and writes the chat's session, then replies. */
export const BENCH_APP = join(ROOT, "bench/apps/echo-session.mjs");
/** Where `--profile` puts the children's .cpuprofile files. */
export const PROFILE_DIR = join(ROOT, "bench/profiles");

/** `--quick` and `--profile` from argv. */
export function flags(argv = process.argv.slice(2)) {
  return { quick: argv.includes("--quick"), profile: argv.includes("--profile") };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const MB = (bytes) => bytes / 2 ** 20;
export const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");
/** `host / baseline` as "1.23x". */
export const ratio = (host, base) => (base > 0 && Number.isFinite(host) ? `${(host / base).toFixed(2)}x` : "n/a");

/** The value at quantile `p` (0..1) of an ascending numeric array. */
export function quantile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** The middle value of a numeric array (the upper one of the two middles for an even length). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Prints a table: `rows` are arrays of cells, the first row is the header. */
export function table(title, rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? "").length)));
  const line = (r) => `| ${r.map((cell, c) => String(cell ?? "").padEnd(widths[c])).join(" | ")} |`;
  const out = [`\n${title}\n`, line(rows[0]), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.slice(1).map(line)];
  process.stdout.write(`${out.join("\n")}\n`);
}

/** Prints a target check line: met / NOT met (the benchmarks report, they never assert). */
export function target(name, met, detail) {
  process.stdout.write(`target: ${name}: ${met ? "met" : "NOT met"} (${detail})\n`);
}

/** `n` fresh Bot API tokens (`<id>:<secret>`), bot ids from `base` on. */
export function makeTokens(n, base) {
  const secret = `BENCH${randomBytes(16).toString("hex")}`;
  return Array.from({ length: n }, (_, i) => `${base + i}:${secret}`);
}

/** A Redis key prefix no other run uses. */
export const freshPrefix = (name) => `bench-${name}-${randomBytes(3).toString("hex")}:`;

/**
 * Writes a bots.yaml for the host and returns its path. Outgoing throttling is off (the fake has no limits and
 * the baseline has no throttle); everything else is the documented default unless `extra` overrides it.
 */
export function writeHostConfig({ apiRoot, redisUrl, prefix, tokens, idPrefix = "b", extra = {} }) {
  const doc = {
    app: BENCH_APP,
    api_root: apiRoot,
    redis: { url: redisUrl, key_prefix: prefix },
    http: { listen: "127.0.0.1:0" },
    limits: { outgoing: { enabled: false } },
    ...extra,
    bots: tokens.map((token, i) => ({ id: `${idPrefix}${i}`, token })),
  };
  const dir = mkdtempSync(join(tmpdir(), "bot-host-bench-"));
  const path = join(dir, "bots.yaml");
  writeFileSync(path, stringify(doc));
  return path;
}

/** nproc, memory, CPU model and Node version, for the header of every script. */
export function machine() {
  let model = cpus()[0]?.model ?? "unknown CPU";
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? model;
  } catch {}
  return `${cpus().length} CPU(s) (${model}), ${fmt(totalmem() / 2 ** 30)} GiB RAM (${fmt(freemem() / 2 ** 30)} GiB free), Node ${process.version}`;
}

/** Prints the script's header line. */
export function header(name, quick) {
  process.stdout.write(`\n=== ${name}${quick ? " (--quick)" : ""} | ${machine()}\n`);
}

/** Runs `main`, printing a failure and exiting 1 on error; always ends the process (no stray handle keeps it). */
export function runMain(main) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`benchmark failed: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}

/** A TCP port free on 127.0.0.1 now (for a host's HTTP server whose URL must be known before it starts). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
