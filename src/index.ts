/**
 * bot-host's public API: what an app module and an embedding program may use. The local Bot API for tests has
 * its own entry point, `bot-host/local-api`.
 */
// For app modules: the context every update gets, and plugin state kept per bot.
export { HostContext, chatKeyOf, type SessionData } from "./runtime/context.js";
export {
  pluginStorage,
  conversationStorage,
  hostContext,
  type ConversationContextStorage,
  type ConversationStorageOptions,
} from "./runtime/plugin-state.js";
// For embedding programs: the host, its options, what it reports, and the one owner of signals and exit.
export { Host } from "./host/host.js";
export type { HostOptions } from "./host/services.js";
export type { StartReport } from "./lifecycle/bot-fleet.js";
export type { ReloadReport } from "./lifecycle/reload.js";
export type { HostStatus, Readiness } from "./http/readiness.js";
export type { BotStatus, BotState, BotProblem } from "./runtime/bot-runner.js";
export type { RuntimeObserver, LeaseEventKind } from "./runtime/observer.js";
export { DrainTimeoutError, ShutdownFailedError, type CutReport } from "./lifecycle/shutdown-steps.js";
export { ShutdownCoordinator, ExitCodes } from "./lifecycle/shutdown-coordinator.js";
// Configuration: the file as validated, and the settings the host resolves from it.
export { loadConfig, parseConfig, ConfigError, type Config, type BotConfig, type ConfigIssue } from "./config/index.js";
export { resolveSettings, type HostSettings, type BotSettings } from "./config/settings.js";
export { createLogger, type Logger, type LogLevel } from "./logging/logger.js";
export { BotHostError, ErrorCodes, isBotHostError, type ErrorCode } from "./errors.js";
