import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { BotHostError, ErrorCodes } from "../errors.js";
import { ConfigError, type ConfigIssue } from "./errors.js";
import { formatPath, locate, positionOf, type FieldPosition } from "./positions.js";
import { ALLOWED_KEYS, configSchema, type RawConfig } from "./schema.js";
import { redactToken } from "./token.js";

/** One bot of a validated config, with its mode resolved. */
export type BotConfig = Readonly<Omit<RawConfig["bots"][number], "mode"> & { mode: "polling" | "webhook" }>;

/** A validated, deep-frozen config: defaults filled in, `app` absolute, `redis` undefined without Redis. */
export type Config = Readonly<
  Omit<RawConfig, "bots" | "redis"> & {
    redis: Readonly<NonNullable<RawConfig["redis"]>> | undefined;
    bots: readonly BotConfig[];
  }
>;

/** Where `parseConfig` reads from. */
export interface ParseOptions {
  /** The file name used in messages, as the user gave it. */
  file: string;
  /** Directory that relative paths (`app`) are resolved against. */
  baseDir: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** Reads and validates a config file; see {@link parseConfig}. */
export async function loadConfig(path: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new BotHostError(ErrorCodes.CONFIG_UNREADABLE, `cannot read config file ${path}: ${reason}`, { cause });
  }
  return parseConfig(text, { file: path, baseDir: dirname(resolve(path)), env });
}

/**
 * Parses, interpolates and validates a config text. Every problem (YAML syntax, unknown keys, unset
 * variables, wrong types and ranges, malformed or duplicate tokens, duplicate ids) is collected and thrown at
 * once as a {@link ConfigError}. Messages never contain a token or a secret.
 */
export function parseConfig(text: string, o: ParseOptions): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const issue = (line: number, col: number, path: string, message: string): ConfigIssue => ({ file: o.file, line, col, path, message });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      o.file,
      doc.errors.map((e) => {
        const p = e.linePos?.[0] ?? { line: 1, col: 1 };
        const first = (e.message.split("\n")[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, "");
        return issue(p.line, p.col, "", `YAML syntax: ${first}`);
      }),
    );
  }
  const { data, positions, missing } = locate(doc, lines, o.env);
  const issues: ConfigIssue[] = [];
  for (const m of missing) {
    const p = positionOf(positions, m.path);
    issues.push(issue(p.line, p.col, formatPath(m.path), `environment variable ${m.name} is not set`));
  }
  const missingPaths = new Set(missing.map((m) => formatPath(m.path)));
  const parsed = configSchema.safeParse(data ?? {});
  if (!parsed.success) {
    for (const zi of parsed.error.issues) {
      for (const found of describe(zi, positions)) {
        if (!missingPaths.has(found.path)) issues.push(issue(found.line, found.col, found.path, found.message));
      }
    }
  }
  issues.push(...duplicates(data, positions, o.file));
  if (issues.length > 0 || !parsed.success) {
    issues.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(o.file, issues);
  }
  return deepFreeze(normalize(parsed.data, o.baseDir));
}

function normalize(raw: RawConfig, baseDir: string): Config {
  const redis = raw.redis === undefined || raw.redis.url === "" ? undefined : raw.redis;
  return {
    ...raw,
    app: resolve(baseDir, raw.app),
    redis,
    bots: raw.bots.map((b) => ({ ...b, mode: b.mode ?? raw.mode })),
  };
}

type Found = { line: number; col: number; path: string; message: string };

function describe(zi: z.core.$ZodIssue, positions: Map<string, FieldPosition>): Found[] {
  const path = zi.path.filter((p): p is string | number => typeof p !== "symbol");
  if (zi.code === "unrecognized_keys") {
    const pattern = formatPath(path).replace(/^bots\[\d+\]$/, "bots[]");
    const allowed = ALLOWED_KEYS[pattern] ?? [];
    return zi.keys.map((key) => {
      const p = positionOf(positions, [...path, key], true);
      const guess = suggest(key, allowed);
      return { ...p, path: formatPath([...path, key]), message: `unknown key${guess ? ` (did you mean "${guess}"?)` : ""}` };
    });
  }
  const where = positionOf(positions, path);
  const isMissing = zi.code === "invalid_type" && !positions.has(formatPath(path));
  const message = isMissing ? "is required" : messageOf(zi);
  return [{ ...where, path: formatPath(path), message }];
}

function messageOf(zi: z.core.$ZodIssue): string {
  switch (zi.code) {
    case "invalid_type":
      return `expected ${zi.expected}`;
    case "too_small":
      return zi.origin === "number" ? `must be ${zi.inclusive ? ">=" : ">"} ${String(zi.minimum)}` : zi.message;
    case "too_big":
      return zi.origin === "number" ? `must be ${zi.inclusive ? "<=" : "<"} ${String(zi.maximum)}` : zi.message;
    case "invalid_value":
      return `must be one of: ${zi.values.map(String).join(", ")}`;
    default:
      return zi.message;
  }
}

function suggest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = distance(key, a);
    if (d < bestD) [best, bestD] = [a, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function duplicates(data: unknown, positions: Map<string, FieldPosition>, file: string): ConfigIssue[] {
  const bots = (data as { bots?: unknown } | null)?.bots;
  if (!Array.isArray(bots)) return [];
  const out: ConfigIssue[] = [];
  const ids = new Map<string, number>();
  const tokens = new Map<string, number>();
  bots.forEach((b: unknown, i) => {
    const { id, token } = (b ?? {}) as { id?: unknown; token?: unknown };
    if (typeof id === "string") {
      const first = ids.get(id);
      const p = positionOf(positions, ["bots", i, "id"]);
      if (first !== undefined) {
        const line = positionOf(positions, ["bots", first, "id"]).line;
        out.push({ file, ...p, path: `bots[${i}].id`, message: `duplicate id "${id}" (first used at line ${line})` });
      } else ids.set(id, i);
    }
    if (typeof token === "string" && token !== "") {
      const first = tokens.get(token);
      const p = positionOf(positions, ["bots", i, "token"]);
      if (first !== undefined) {
        const line = positionOf(positions, ["bots", first, "token"]).line;
        out.push({ file, ...p, path: `bots[${i}].token`, message: `same token (${redactToken(token)}) as bots[${first}] (first used at line ${line})` });
      } else tokens.set(token, i);
    }
  });
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
