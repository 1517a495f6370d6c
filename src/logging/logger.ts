import { pino, stdSerializers, type Logger, type LoggerOptions, type DestinationStream } from "pino";

/** The pino logger type used everywhere; components take it as a parameter, never import a global one. */
export type { Logger } from "pino";

/** Log levels accepted by `--log-level`. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

// A Bot API token anywhere in a string: digits, colon, 30+ token characters.
const TOKEN_IN_TEXT = /(\d{3,20}):[A-Za-z0-9_-]{30,}/g;

/** Replaces every Bot API token inside `text` with `<bot id>:***`. */
export function scrubTokens(text: string): string {
  return text.replace(TOKEN_IN_TEXT, "$1:***");
}

function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubTokens(value);
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, depth + 1);
  return out;
}

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level?: LogLevel;
  /** Human-readable output instead of JSON lines. */
  pretty?: boolean;
  /** Where lines go; default stdout. Tests pass a stream to read lines back. */
  destination?: DestinationStream;
}

/**
 * Creates the process logger: JSON lines by default; `pretty` prints one readable line per entry.
 * Tokens never reach a line: fields named `token` are censored, and every error and message string is
 * scrubbed of anything shaped like a Bot API token.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const base: LoggerOptions = {
    level: options.level ?? "info",
    base: { pid: process.pid },
    redact: { paths: ["token", "*.token", "*.*.token", "config.bots[*].token"], censor: "***" },
    serializers: {
      err: (err: Error) => scrubValue(stdSerializers.err(err)) as ReturnType<typeof stdSerializers.err>,
    },
    hooks: {
      logMethod(args, method) {
        // The message argument is where an error's text most often lands.
        const scrubbed = args.map((a) => (typeof a === "string" ? scrubTokens(a) : a));
        method.apply(this, scrubbed as Parameters<typeof method>);
      },
    },
  };
  if (options.pretty === true) {
    return pino({ ...base, formatters: { level: (label) => ({ level: label }) } }, options.destination ?? prettyStream());
  }
  // Synchronous writes keep lines in order (asynchronous ones were seen reordered on a pipe); per-update
  // logging stays at debug level, so the hot path does not write.
  return pino(base, options.destination ?? pino.destination({ fd: 1, sync: true }));
}

/** A minimal pretty printer (no extra dependency): `HH:MM:SS level [bot] msg {fields}`. */
function prettyStream(): DestinationStream {
  return {
    write(line: string): void {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        process.stdout.write(line);
        return;
      }
      const { time, level, msg, bot, component, pid: _pid, hostname: _h, ...rest } = entry;
      const when = new Date(typeof time === "number" ? time : Date.now()).toISOString().slice(11, 19);
      const who = [component, bot].filter((x) => x !== undefined).join("/");
      const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
      process.stdout.write(`${when} ${String(level).padEnd(5)} ${who ? `[${who}] ` : ""}${String(msg ?? "")}${extra}\n`);
    },
  };
}
