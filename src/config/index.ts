/** The config module: YAML -> interpolate -> validate -> freeze, with errors that name the line and field. */
export {
  loadConfig,
  parseConfig,
  type Config,
  type BotConfig,
  type Mode,
  type UpdateType,
  type ParseOptions,
  type RedisTarget,
} from "./load.js";
export { ConfigError, formatIssue, type ConfigIssue } from "./errors.js";
export { TOKEN_PATTERN, redactToken, redactTokensIn, redactUrl, telegramBotIdOf } from "./token.js";
export { UPDATE_TYPES, DEFAULT_KEY_PREFIX } from "./schema.js";
