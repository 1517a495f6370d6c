// Kept apart from the logger so that code running before pino is loaded can scrub too.

// A Bot API token anywhere in a string: digits, colon, 30+ token characters.
const TOKEN_IN_TEXT = /(\d{3,20}):[A-Za-z0-9_-]{30,}/g;

/** Replaces every Bot API token inside `text` with `<bot id>:***`. */
export function scrubTokens(text: string): string {
  return text.replace(TOKEN_IN_TEXT, "$1:***");
}

/** Scrubs tokens from every string inside `value` (a few levels deep), for log fields. */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubTokens(value);
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, depth + 1);
  return out;
}
