import type { LocalBotApi } from "../local-api/local-bot-api.js";
import type { HostChild } from "./host-child.js";
import type { StateInspector } from "./inspect.js";

/** What the page knows of one bot of the file. */
export interface BotView {
  id: string;
  enabled: boolean;
  /** Its Telegram user id in the playground (a disabled bot has one too, but does not run). */
  telegramId: number;
  name: string;
  username: string;
}

/** Everything a playground session runs, for the page's server. */
export interface Session {
  readonly fake: LocalBotApi;
  readonly host: HostChild;
  readonly inspector: StateInspector;
  readonly bots: readonly BotView[];
  readonly notes: readonly string[];
  readonly state: "redis" | "memory";
  readonly admins: readonly number[];
}
