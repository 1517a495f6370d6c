import type { z } from "zod";
import { formatPath, positionOf, valueAt, type FieldPosition, type Position } from "./positions.js";
import { ALLOWED_KEYS } from "./schema.js";

/** A problem ready to become a `ConfigIssue`. */
export interface Found {
  at: Position;
  path: string;
  message: string;
}

/**
 * Turns one zod issue into located, readable problems (several for an `unrecognized_keys` issue). Messages
 * describe the expectation and the kind of value found, never the value itself: it may be a secret.
 */
export function describeIssue(zi: z.core.$ZodIssue, data: unknown, positions: Map<string, FieldPosition>): Found[] {
  const path = zi.path.filter((p): p is string | number => typeof p !== "symbol");
  if (zi.code === "unrecognized_keys") {
    const allowed = ALLOWED_KEYS[formatPath(path).replace(/^bots\[\d+\]/, "bots[]")] ?? [];
    return zi.keys.map((key) => {
      const guess = suggest(key, allowed);
      const hint = guess !== undefined ? `did you mean "${guess}"?` : `expected one of: ${allowed.join(", ")}`;
      return { at: positionOf(positions, [...path, key], true), path: formatPath([...path, key]), message: `unknown key (${hint})` };
    });
  }
  const value = valueAt(data, path);
  // A missing key has no node: the issue points at the mapping that lacks it.
  const missing = value === undefined && !positions.has(formatPath(path));
  return [{ at: positionOf(positions, path), path: formatPath(path), message: missing ? "is required" : messageOf(zi, value) }];
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  object: "a mapping",
  record: "a mapping",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
};

function kindOf(value: unknown): string {
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "boolean") return value ? "true" : "false";
  return TYPE_NAMES[typeof value] ?? typeof value;
}

// `limit: "5"` is a string in YAML; literal strings are not coerced (only interpolated ones are).
function quotedHint(expected: string, value: unknown): string {
  if (typeof value !== "string") return "";
  const fits =
    expected === "boolean"
      ? /^(true|false)$/.test(value)
      : (expected === "number" || expected === "int") && /^[-+]?\d+(\.\d+)?$/.test(value);
  return fits ? " (remove the quotes)" : "";
}

function messageOf(zi: z.core.$ZodIssue, value: unknown): string {
  switch (zi.code) {
    case "invalid_type":
      if (zi.expected === "int" && typeof value === "number") return "must be an integer";
      return `expected ${TYPE_NAMES[zi.expected] ?? zi.expected}, got ${kindOf(value)}${quotedHint(zi.expected, value)}`;
    case "too_small":
      return zi.origin === "number" ? `must be ${zi.inclusive ? ">=" : ">"} ${String(zi.minimum)}` : zi.message;
    case "too_big":
      return zi.origin === "number" ? `must be ${zi.inclusive ? "<=" : "<"} ${String(zi.maximum)}` : zi.message;
    case "invalid_value": {
      const allowed = zi.values.map(String);
      const guess = typeof value === "string" ? suggest(value, allowed) : undefined;
      if (guess === undefined) return `must be one of: ${allowed.join(", ")}`;
      // A long list (update types) buries the likely fix; a short one (modes) reads well in full.
      return allowed.length > 6
        ? `unknown value (did you mean "${guess}"?)`
        : `must be one of: ${allowed.join(", ")} (did you mean "${guess}"?)`;
    }
    default:
      return zi.message;
  }
}

/** The allowed word closest to `word`, if it is within edit distance 2. */
function suggest(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = distance(word.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
