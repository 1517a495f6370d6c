import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { isMap, isScalar, isSeq, parseDocument, type Document } from "yaml";
import { BotHostError, ErrorCodes } from "../errors.js";
import { parseConfig, type Config } from "../config/index.js";
import { resolveSettings } from "../config/settings.js";

/** Telegram id of the first playground bot; the others follow. */
const FIRST_BOT_ID = 7_000_000_001;
/** The id of the preset "Admin" user when the config lists no admin chats. */
export const ADMIN_USER_ID = 5_000_000;

/** One bot of the user's file, with the local token that replaces its real one. */
export interface PlaygroundBot {
  id: string;
  enabled: boolean;
  /** A generated token: the file's token (real or not) never leaves this process. */
  token: string;
  /** Its Telegram user id (the token's numeric part). */
  telegramId: number;
}

/** The user's bots.yaml, read with every token replaced. */
export interface UserFile {
  path: string;
  /** The file's text with every `bots[].token` replaced by a generated one (same lines). */
  text: string;
  /** The file as validated (tokens replaced, variables interpolated from this process' environment). */
  config: Config;
  bots: PlaygroundBot[];
  /** The variables the file's tokens referred to, each with the generated token that stands in for it. */
  tokenVars: Map<string, string>;
}

/** What the host child runs: the derived file and the environment it is interpolated with. */
export interface Derived {
  text: string;
  config: Config;
  env: Record<string, string>;
  /** Things the page and the log should tell the user (a webhook bot switched to polling, the admin set, ...). */
  notes: string[];
  /** The user ids the app treats as admins (`app_config.admin_chats` that are private chats). */
  admins: number[];
}

/** How the derived config keeps its state. */
export type StateChoice = { kind: "redis"; url: string; keyPrefix: string } | { kind: "memory" };

const literal = (s: string): string => s.replaceAll("${", "$${");

/**
 * Reads the user's bots.yaml and replaces every bot's token by a generated local one, in the text itself (so line
 * numbers of problems stay right and no real token is ever parsed further). Throws the config's own errors.
 */
export async function readUserFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<UserFile> {
  let source: string;
  try {
    source = await readFile(path, "utf8");
  } catch (cause) {
    throw new BotHostError(ErrorCodes.CONFIG_UNREADABLE, `cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  const doc = parseDocument(source, { uniqueKeys: false });
  const replacements: Array<{ from: number; to: number; token: string }> = [];
  const tokenVars = new Map<string, string>();
  const tokens: string[] = [];
  const bots = doc.errors.length === 0 ? doc.get("bots") : undefined;
  if (isSeq(bots)) {
    bots.items.forEach((item, i) => {
      const token = `${FIRST_BOT_ID + i}:PLAYGROUND${randomBytes(12).toString("hex")}`;
      tokens.push(token);
      const node = isMap(item) ? item.get("token", true) : undefined;
      if (!isScalar(node) || node.range === undefined || node.range === null) return;
      replacements.push({ from: node.range[0], to: node.range[1], token });
      for (const m of String(node.source ?? node.value).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
        if (!tokenVars.has(m[1]!)) tokenVars.set(m[1]!, token);
      }
    });
  }
  let text = source;
  for (const r of replacements.sort((a, b) => b.from - a.from)) text = `${text.slice(0, r.from)}"${r.token}"${text.slice(r.to)}`;
  const config = parseConfig(text, { file: path, baseDir: dirname(resolve(path)), env: withTokens(env, tokenVars) });
  const list = config.bots.map((b, i) => ({ id: b.id, enabled: b.enabled, token: tokens[i]!, telegramId: FIRST_BOT_ID + i }));
  return { path, text, config, bots: list, tokenVars };
}

function withTokens(env: NodeJS.ProcessEnv, tokenVars: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  for (const [k, v] of tokenVars) out[k] = v;
  return out;
}

/**
 * The config the host child runs: the user's file with the local Bot API as `api_root`, every bot polling, the
 * HTTP server on a free loopback port, the app path absolute, the chosen state, and (when the app has an empty
 * `admin_chats`) the preset admin. Everything else is the user's own settings, variables and all.
 */
export function deriveConfig(file: UserFile, apiRoot: string, state: StateChoice, env: NodeJS.ProcessEnv = process.env): Derived {
  const doc = parseDocument(file.text, { uniqueKeys: false });
  const notes: string[] = [];
  doc.set("app", literal(file.config.app));
  doc.set("api_root", apiRoot);
  doc.set("mode", "polling");
  doc.delete("webhook");
  setIn(doc, ["http", "listen"], "127.0.0.1:0");
  if (state.kind === "redis") {
    const own = file.config.redis !== undefined && (file.config.redis.target.kind !== "server" || file.config.redis.url !== state.url);
    if (own) {
      // The playground's own redis-server: none of the file's cluster, Sentinel or credentials apply to it.
      for (const k of ["cluster", "sentinel", "username", "password", "tls", "min_replicas"]) doc.deleteIn(["redis", k]);
    }
    setIn(doc, ["redis", "url"], literal(state.url));
    setIn(doc, ["redis", "key_prefix"], literal(state.keyPrefix));
  } else {
    doc.delete("redis");
  }
  file.config.bots.forEach((b, i) => {
    if (b.mode === "webhook" && b.enabled) notes.push(`bot ${b.id} uses webhooks in the file; the playground runs it with polling`);
    doc.deleteIn(["bots", i, "mode"]);
    doc.deleteIn(["bots", i, "webhook_secret"]);
    doc.deleteIn(["bots", i, "api_root"]); // every bot talks to the local Bot API
  });
  const admins = adminIds(file.config, doc, notes);
  const childEnv = withTokens(env, file.tokenVars);
  const text = doc.toString();
  const config = parseConfig(text, {
    file: `${file.path} (as the playground runs it)`,
    baseDir: dirname(resolve(file.path)),
    env: childEnv,
  });
  return { text, config, env: childEnv, notes, admins };
}

/**
 * The admins of the app: for each enabled bot, the private chats of its `admin_chats` (its own `app_config` over
 * the top-level one), or the preset Admin where that list is empty.
 */
function adminIds(config: Config, doc: Document, notes: string[]): number[] {
  const settings = resolveSettings(config);
  const ids = new Set<number>();
  let preset = false;
  let groups = false;
  config.bots.forEach((bot, i) => {
    const list = settings.bots[i]!.appConfig.admin_chats;
    if (!bot.enabled || !Array.isArray(list)) return;
    if (list.length > 0) {
      const own = list.filter((x): x is number => typeof x === "number" && Number.isSafeInteger(x) && x > 0);
      if (own.length < list.length) groups = true;
      for (const id of own) ids.add(id);
      return;
    }
    // Where the empty list is written: the bot's own app_config, or the top level.
    setIn(doc, bot.app_config?.admin_chats !== undefined ? ["bots", i, "app_config", "admin_chats"] : ["app_config", "admin_chats"], [
      ADMIN_USER_ID,
    ]);
    ids.add(ADMIN_USER_ID);
    preset = true;
  });
  if (preset) notes.push(`app_config.admin_chats is empty in the file: the simulated user "Admin" (id ${ADMIN_USER_ID}) is the admin here`);
  if (groups) notes.push("admin_chats that are groups are not simulated");
  return [...ids];
}

function setIn(doc: Document, path: Array<string | number>, value: unknown): void {
  // A section written as `redis:` with nothing under it is null: replace it by a mapping first.
  const parent = path.slice(0, -1);
  if (parent.length > 0 && !isMap(doc.getIn(parent, true))) doc.setIn(parent, doc.createNode({}));
  doc.setIn(path, doc.createNode(value));
}
