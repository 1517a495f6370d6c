import { ConfigError, formatIssue, parseConfig, type Config, type ConfigIssue } from "../../../src/config/index.js";

/** Fake tokens of the right shape. */
export const T1 = `100001:${"a".repeat(35)}`;
export const T2 = `100002:${"b".repeat(35)}`;
export const T3 = `100003:${"c".repeat(35)}`;

/** Joins lines into a YAML text, so tests can count lines by array index + 1. */
export const yaml = (...lines: string[]): string => `${lines.join("\n")}\n`;

/** Parses with file "bots.yaml" and base directory "/srv/bots". */
export function parse(text: string, env: Record<string, string | undefined> = {}): Config {
  return parseConfig(text, { file: "bots.yaml", baseDir: "/srv/bots", env });
}

/** The ConfigError that parsing `text` throws (fails the test when it does not throw one). */
export function errorOf(text: string, env: Record<string, string | undefined> = {}): ConfigError {
  try {
    parse(text, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, but the config was valid");
}

/** The issues of `text`, formatted as `bots.yaml:line:col path: message`. */
export function problems(text: string, env: Record<string, string | undefined> = {}): string[] {
  return errorOf(text, env).issues.map((i: ConfigIssue) => formatIssue(i));
}
