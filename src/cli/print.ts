import { ExitCodes, exitCodeOf, isBotHostError } from "../errors.js";
// Leaf modules, not the config index (which loads yaml and valibot) nor the logger (pino): printing an error must
// not load what the command did not need.
import { ConfigError } from "../config/errors.js";
import { scrubTokens } from "../logging/scrub.js";

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
    return exitCodeOf(err);
  }
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`unexpected error: ${scrubTokens(text)}\n`);
  return ExitCodes.RUNTIME;
}
