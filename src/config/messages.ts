import type { BaseIssue } from "valibot";
import { formatPath, positionOf, valueAt, type FieldPosition, type Position } from "./positions.js";
import { ALLOWED_KEYS } from "./schema.js";

/** A problem ready to become a `ConfigIssue`. */
export interface Found {
  at: Position;
  path: string;
  message: string;
}

/** Whether a valibot issue is about a key its mapping does not allow. */
export function isUnknownKey(issue: BaseIssue<unknown>): boolean {
  return issue.type === "strict_object" && issue.expected === "never";
}

/**
 * Turns one valibot issue into located, readable problems (one per unknown key of a mapping: valibot reports
 * only the first). Messages describe the expectation and the kind of value found, never the value itself: it
 * may be a secret.
 */
export function describeIssue(issue: BaseIssue<unknown>, data: unknown, positions: Map<string, FieldPosition>): Found[] {
  const path = (issue.path ?? []).map((p) => p.key).filter((k): k is string | number => typeof k === "string" || typeof k === "number");
  if (isUnknownKey(issue)) {
    const parent = path.slice(0, -1);
    const allowed = ALLOWED_KEYS[formatPath(parent).replace(/^bots\[\d+\]/, "bots[]")] ?? [];
    const item = issue.path?.at(-1);
    const mapping = item?.type === "object" ? item.input : {};
    return Object.keys(mapping)
      .filter((key) => !allowed.includes(key))
      .map((key) => {
        const guess = suggest(key, allowed);
        const hint = guess !== undefined ? `did you mean "${guess}"?` : `expected one of: ${allowed.join(", ")}`;
        return { at: positionOf(positions, [...parent, key], true), path: formatPath([...parent, key]), message: `unknown key (${hint})` };
      });
  }
  const value = valueAt(data, path);
  // A missing key has no node: the issue points at the mapping that lacks it.
  const missing = value === undefined && !positions.has(formatPath(path));
  return [{ at: positionOf(positions, path), path: formatPath(path), message: missing ? "is required" : messageOf(issue, value) }];
}

/** What a schema expects, by valibot's type of the schema. */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  // schema.ts checks that a mapping is not a list with `custom` before the object or record schema runs.
  custom: "a mapping",
  strict_object: "a mapping",
  record: "a mapping",
  array: "a list",
  string: "a string",
  number: "a number",
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
  const fits = expected === "boolean" ? /^(true|false)$/.test(value) : expected === "number" && /^[-+]?\d+(\.\d+)?$/.test(value);
  return fits ? " (remove the quotes)" : "";
}

const COMPARISONS: Readonly<Record<string, string>> = { min_value: ">=", gt_value: ">", max_value: "<=", lt_value: "<" };

function messageOf(issue: BaseIssue<unknown>, value: unknown): string {
  const expected = TYPE_NAMES[issue.type];
  if (issue.kind === "schema" && expected !== undefined)
    return `expected ${expected}, got ${kindOf(value)}${quotedHint(issue.type, value)}`;
  const comparison = COMPARISONS[issue.type];
  if (comparison !== undefined) return `must be ${comparison} ${String(issue.requirement)}`;
  if (issue.type === "integer") return "must be an integer";
  if (issue.type === "picklist") {
    // valibot names the options in `expected`, quoted: ("polling" | "webhook").
    const allowed = [...(issue.expected ?? "").matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    const guess = typeof value === "string" ? suggest(value, allowed) : undefined;
    if (guess === undefined) return `must be one of: ${allowed.join(", ")}`;
    // A long list (update types) buries the likely fix; a short one (modes) reads well in full.
    return allowed.length > 6
      ? `unknown value (did you mean "${guess}"?)`
      : `must be one of: ${allowed.join(", ")} (did you mean "${guess}"?)`;
  }
  // The messages schema.ts gives its checks, and the union's (listen).
  return issue.message;
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
