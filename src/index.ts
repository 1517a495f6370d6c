/**
 * bot-host's public API: what an app module and an embedding program may use.
 */
export { HostContext, chatKeyOf, type SessionData } from "./runtime/context.js";
export {
  pluginStorage,
  conversationStorage,
  hostContext,
  type ConversationContextStorage,
  type ConversationStorageOptions,
} from "./runtime/plugin-state.js";
export { Host, DrainTimeoutError, type StartReport, type CutReport } from "./host.js";
export { ShutdownCoordinator, ExitCodes } from "./lifecycle/shutdown-coordinator.js";
export { loadConfig, parseConfig, ConfigError, type Config, type BotConfig } from "./config/index.js";
export { createLogger, type Logger, type LogLevel } from "./logging/logger.js";
export { BotHostError, ErrorCodes, isBotHostError, type ErrorCode } from "./errors.js";
