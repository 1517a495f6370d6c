import { pino, stdSerializers, type Logger, type LoggerOptions, type DestinationStream } from "pino";

/** The pino logger type used everywhere; components take it as a parameter, never import a global one. */
export type { Logger } from "pino";

import type { LogLevel } from "./levels.js";

export { LOG_LEVELS, type LogLevel } from "./levels.js";

import { scrubTokens, scrubValue } from "./scrub.js";

export { scrubTokens };

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
