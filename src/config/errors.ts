import { BotHostError, ErrorCodes } from "../errors.js";

/** One problem in a config file, located at a line and column (1-based). */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The field, as `bots[1].token` or `polling.limit` (empty for the whole file). */
  readonly path: string;
  readonly message: string;
}

/** `bots.yaml:12:12 bots[1].token: environment variable BOT2_TOKEN is not set` */
export function formatIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.col} ${issue.path === "" ? "" : `${issue.path}: `}${issue.message}`;
}

/** A config file that failed validation; `issues` lists every problem, in file order. */
export class ConfigError extends BotHostError {
  readonly issues: readonly ConfigIssue[];

  constructor(file: string, issues: readonly ConfigIssue[]) {
    const n = issues.length;
    super(ErrorCodes.CONFIG_INVALID, `${file} has ${n} problem${n === 1 ? "" : "s"}:\n${issues.map(formatIssue).join("\n")}`);
    this.name = "ConfigError";
    this.issues = issues;
  }
}
