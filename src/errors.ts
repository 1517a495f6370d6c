/**
 * The error-code catalogue. Every error bot-host raises on purpose carries one of these stable codes and a
 * message a user can act on; the original error, if any, is kept as `cause`.
 */
export const ErrorCodes = {
  /** bots.yaml (or a reload of it) failed validation; `ConfigError.issues` lists every problem. */
  CONFIG_INVALID: "BOT_HOST_CONFIG_INVALID",
  /** The config file could not be read at all. */
  CONFIG_UNREADABLE: "BOT_HOST_CONFIG_UNREADABLE",
  /** The `app` module could not be loaded or does not export a Composer or middleware. */
  APP_INVALID: "BOT_HOST_APP_INVALID",
  /** Telegram answered 401 for a token: the token is wrong or was revoked. */
  BOT_UNAUTHORIZED: "BOT_HOST_BOT_UNAUTHORIZED",
  /** Telegram answered 409: another process polls with this token, or a webhook is set. */
  BOT_CONFLICT: "BOT_HOST_BOT_CONFLICT",
  /** The Bot API could not be reached within the start deadline. */
  BOT_API_UNREACHABLE: "BOT_HOST_BOT_API_UNREACHABLE",
  /** Redis could not be reached at start. */
  REDIS_UNREACHABLE: "BOT_HOST_REDIS_UNREACHABLE",
  /** No enabled bot could be started. */
  NO_BOT_STARTED: "BOT_HOST_NO_BOT_STARTED",
  /** The drain after a stop signal did not finish within `shutdown.drain_timeout`. */
  DRAIN_TIMEOUT: "BOT_HOST_DRAIN_TIMEOUT",
  /** A step of the ordered shutdown failed (the later steps still ran); the process exits 1. */
  SHUTDOWN_FAILED: "BOT_HOST_SHUTDOWN_FAILED",
  /** Redis did not close cleanly (QUIT unanswered or refused); the connection was dropped. */
  REDIS_CLOSE_FAILED: "BOT_HOST_REDIS_CLOSE_FAILED",
  /** A Bot API call still waiting for its turn under the rate limits when its bot stopped; it was not sent. */
  CALL_NOT_SENT: "BOT_HOST_CALL_NOT_SENT",
  /** Wrong command-line usage. */
  USAGE: "BOT_HOST_USAGE",
} as const;

/** One of the stable error codes of {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

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
