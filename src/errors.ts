/**
 * The error-code catalogue and the exit codes they map to. Every error bot-host raises on purpose carries one
 * of these stable codes and a message a user can act on; the original error, if any, is kept as `cause`.
 */

/** Exit codes of the process (also documented in the README). */
export const ExitCodes = { OK: 0, RUNTIME: 1, CONFIG: 2, SIGINT: 130, SIGTERM: 143 } as const;

/** Each stable code with the exit code of a CLI command that ends on it. */
const CATALOGUE = {
  /** bots.yaml (or a reload of it) failed validation; `ConfigError.issues` lists every problem. */
  CONFIG_INVALID: { code: "BOT_HOST_CONFIG_INVALID", exit: ExitCodes.CONFIG },
  /** The config file could not be read at all. */
  CONFIG_UNREADABLE: { code: "BOT_HOST_CONFIG_UNREADABLE", exit: ExitCodes.CONFIG },
  /** The `app` module could not be loaded or does not export a Composer or middleware. */
  APP_INVALID: { code: "BOT_HOST_APP_INVALID", exit: ExitCodes.RUNTIME },
  /** Telegram answered 401 for a token: the token is wrong or was revoked. */
  BOT_UNAUTHORIZED: { code: "BOT_HOST_BOT_UNAUTHORIZED", exit: ExitCodes.RUNTIME },
  /** Telegram answered 409: another process polls with this token, or a webhook is set. */
  BOT_CONFLICT: { code: "BOT_HOST_BOT_CONFLICT", exit: ExitCodes.RUNTIME },
  /** The Bot API could not be reached (within the start deadline, or while polling: retried). */
  BOT_API_UNREACHABLE: { code: "BOT_HOST_BOT_API_UNREACHABLE", exit: ExitCodes.RUNTIME },
  /** Telegram answered getUpdates with 429 (retried after `retry_after`). */
  BOT_API_RATE_LIMITED: { code: "BOT_HOST_BOT_API_RATE_LIMITED", exit: ExitCodes.RUNTIME },
  /** Telegram answered getUpdates with an error other than 401, 409 and 429 (retried with backoff). */
  BOT_API_ERROR: { code: "BOT_HOST_BOT_API_ERROR", exit: ExitCodes.RUNTIME },
  /** A bot stopped on an error it cannot recover from (a bug, or the runner ended); its log line has the cause. */
  BOT_FAILED: { code: "BOT_HOST_BOT_FAILED", exit: ExitCodes.RUNTIME },
  /** A Bot API call still waiting for its turn under the rate limits when its bot stopped; it was not sent. */
  CALL_NOT_SENT: { code: "BOT_HOST_CALL_NOT_SENT", exit: ExitCodes.RUNTIME },
  /** Plugin state (`pluginStorage`, `conversationStorage`, `hostContext`) was used outside the handling of an update. */
  PLUGIN_STATE_OUTSIDE_UPDATE: { code: "BOT_HOST_PLUGIN_STATE_OUTSIDE_UPDATE", exit: ExitCodes.RUNTIME },
  /** An update was set aside as a dead letter (started `updates.max_attempts` times, or past `updates.handler_timeout`). */
  UPDATE_SET_ASIDE: { code: "BOT_HOST_UPDATE_SET_ASIDE", exit: ExitCodes.RUNTIME },
  /** A webhook update Telegram delivered again after it was handled or while it runs: acknowledged, not run again. */
  UPDATE_REDELIVERED: { code: "BOT_HOST_UPDATE_REDELIVERED", exit: ExitCodes.RUNTIME },
  /** A handler ran past `updates.handler_timeout`: its update was set aside, and its later calls and writes are refused. */
  HANDLER_TIMED_OUT: { code: "BOT_HOST_HANDLER_TIMED_OUT", exit: ExitCodes.RUNTIME },
  /** This instance no longer holds the lease of a bot (another instance took it over): its writes are refused. */
  LEASE_LOST: { code: "BOT_HOST_LEASE_LOST", exit: ExitCodes.RUNTIME },
  /** Redis holds a bot's journal or cursor under the key names used before hash tags: run `bot-host migrate-keys`. */
  LEGACY_KEYS: { code: "BOT_HOST_LEGACY_KEYS", exit: ExitCodes.RUNTIME },
  /** A journal write was not acknowledged by `redis.min_replicas` replicas in time (it is retried; nothing is confirmed). */
  NOT_REPLICATED: { code: "BOT_HOST_NOT_REPLICATED", exit: ExitCodes.RUNTIME },
  /** Redis could not be reached at start. */
  REDIS_UNREACHABLE: { code: "BOT_HOST_REDIS_UNREACHABLE", exit: ExitCodes.RUNTIME },
  /** Redis did not close cleanly (QUIT unanswered or refused); the connection was dropped. */
  REDIS_CLOSE_FAILED: { code: "BOT_HOST_REDIS_CLOSE_FAILED", exit: ExitCodes.RUNTIME },
  /** The drain after a stop signal did not finish within `shutdown.drain_timeout`. */
  DRAIN_TIMEOUT: { code: "BOT_HOST_DRAIN_TIMEOUT", exit: ExitCodes.RUNTIME },
  /** A step of the ordered shutdown failed (the later steps still ran). */
  SHUTDOWN_FAILED: { code: "BOT_HOST_SHUTDOWN_FAILED", exit: ExitCodes.RUNTIME },
} as const;

type Catalogue = typeof CATALOGUE;

/** The stable codes by name: branch on these, never on a message. */
export const ErrorCodes = Object.fromEntries(Object.entries(CATALOGUE).map(([name, e]) => [name, e.code])) as {
  readonly [K in keyof Catalogue]: Catalogue[K]["code"];
};

/** One of the stable error codes of {@link ErrorCodes}. */
export type ErrorCode = Catalogue[keyof Catalogue]["code"];

const EXIT_OF = new Map<string, number>(Object.values(CATALOGUE).map((e) => [e.code, e.exit]));

/** Base class of every error bot-host raises on purpose. Branch on `code`, never on the message. */
export class BotHostError extends Error {
  /** A stable code from {@link ErrorCodes}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BotHostError";
    this.code = code;
  }
}

/** True for errors raised by bot-host on purpose (user-facing, printed without a stack trace). */
export function isBotHostError(error: unknown): error is BotHostError {
  return error instanceof BotHostError;
}

/** The exit code a CLI command ends with when it fails on `error` (1 for anything not in the catalogue). */
export function exitCodeOf(error: unknown): number {
  return isBotHostError(error) ? (EXIT_OF.get(error.code) ?? ExitCodes.RUNTIME) : ExitCodes.RUNTIME;
}
