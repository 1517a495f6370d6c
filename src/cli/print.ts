import { isBotHostError } from "../errors.js";
import { ConfigError } from "../config/index.js";
import { scrubTokens } from "../logging/logger.js";
import { ExitCodes } from "../lifecycle/shutdown-coordinator.js";

/**
 * Prints a user-facing error (no stack trace) and returns the exit code it maps to: 2 for configuration
 * problems, 1 for everything else. Unexpected errors (bugs) keep their stack.
 */
export function reportError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`${scrubTokens(err.message)}\n`);
    return ExitCodes.CONFIG;
  }
  if (isBotHostError(err)) {
    process.stderr.write(`error ${err.code}: ${scrubTokens(err.message)}\n`);
    return err.code === "BOT_HOST_CONFIG_UNREADABLE" || err.code === "BOT_HOST_USAGE" ? ExitCodes.CONFIG : ExitCodes.RUNTIME;
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`unexpected error: ${scrubTokens(text)}\n`);
  return ExitCodes.RUNTIME;
}
