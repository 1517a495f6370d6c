import { BotHostError, ErrorCodes } from "../errors.js";
import { redactTokensIn } from "./token.js";

/** One problem in a config file, located at a line and column (1-based). */
export interface ConfigIssue {
  /** The config file, as the user named it. */
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The field, as `bots[1].token` or `polling.limit` (empty for the whole file). */
  readonly path: string;
  readonly message: string;
}

/** One line per issue: `bots.yaml:12:12 bots[1].token: environment variable BOT2_TOKEN is not set`. */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col} ${issue.path === "" ? "" : `${issue.path}: `}${issue.message}`;
}

/**
 * A config file that failed validation (code `CONFIG_INVALID`). `issues` lists every problem, and the message
 * is `bots.yaml has N problems:` followed by one {@link formatIssue} line per issue.
 */
export class ConfigError extends BotHostError {
  /** Every problem found, in the order given (file order when raised by `parseConfig`). */
  readonly issues: readonly ConfigIssue[];

  /**
   * @param file The config file, as the user named it.
   * @param issues At least one problem. Anything shaped like a Bot API token in a path or message is redacted
   *   here, as a last line of defence: messages are written never to contain one.
   */
  constructor(file: string, issues: readonly ConfigIssue[]) {
    const safe = Object.freeze(
      issues.map((i) => Object.freeze({ ...i, path: redactTokensIn(i.path), message: redactTokensIn(i.message) })),
    );
    const n = safe.length;
    super(ErrorCodes.CONFIG_INVALID, `${file} has ${n} problem${n === 1 ? "" : "s"}:\n${safe.map(formatIssue).join("\n")}`);
    this.name = "ConfigError";
    this.issues = safe;
  }
}
