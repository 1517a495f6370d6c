import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../logging/logger.js";
import { DEFAULT_KEY_PREFIX, redactUrl } from "../config/index.js";
import { LocalBotApi } from "../local-api/local-bot-api.js";
import { deriveConfig, readUserFile, type Derived, type PlaygroundBot, type StateChoice } from "./derive.js";
import { HostChild } from "./host-child.js";
import { StateInspector } from "./inspect.js";
import { hasRedisServer, startOwnRedis, type OwnRedis } from "./redis-server.js";
import { PlaygroundServer } from "./server.js";
import type { BotView, Session } from "./session.js";

export type { BotView, Session } from "./session.js";

/** Options of {@link Playground.start}. */
export interface PlaygroundOptions {
  /** The user's bots.yaml. */
  config: string;
  /** Where the page is served. */
  listen: { host: string; port: number };
  logger: Logger;
  /** The environment `${VAR}` references are read from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

const titleCase = (id: string): string => id.charAt(0).toUpperCase() + id.slice(1).replace(/[-_]+/g, " ");
const usernameOf = (id: string): string => `${id.replace(/[^A-Za-z0-9_]/g, "_")}_bot`.slice(-32).padStart(5, "x");

/**
 * `bot-host playground`: the user's bots, run by the real host in a child process against a local fake Bot API,
 * with a page (its own HTTP server) to chat with them as simulated users and to restart or kill the host.
 */
export class Playground {
  private constructor(
    private readonly session: Session,
    private readonly server: PlaygroundServer,
    private readonly cleanup: Array<() => Promise<void> | void>,
    /** The page's address. */
    readonly url: string,
  ) {}

  static async start(o: PlaygroundOptions): Promise<Playground> {
    const log = o.logger;
    const cleanup: Array<() => Promise<void> | void> = [];
    const undo = async (): Promise<void> => {
      for (const fn of cleanup.splice(0).reverse()) await Promise.resolve(fn()).catch(() => undefined);
    };
    try {
      const file = await readUserFile(o.config, o.env);
      const fake = await LocalBotApi.start();
      cleanup.push(() => fake.stop());
      const bots = file.bots.map((b) => view(b));
      for (const b of file.bots) if (b.enabled) fake.addBot(b.token, { first_name: titleCase(b.id), username: usernameOf(b.id) });

      const { state, ownRedis, note } = await chooseState(file.config.redis);
      if (ownRedis !== undefined) cleanup.push(() => ownRedis.stop());
      const derived: Derived = deriveConfig(file, fake.apiRoot, state, o.env);
      const notes = [note, ...derived.notes];
      const inspector = new StateInspector(state.kind === "redis" ? state : undefined, () => host.status.port);
      cleanup.push(() => inspector.close());
      if (state.kind === "redis" && ownRedis === undefined) {
        const n = await inspector.clear();
        if (n > 0) notes.push(`removed ${n} keys of the last playground session under ${state.keyPrefix}`);
      }

      const dir = mkdtempSync(join(tmpdir(), "bot-host-playground-"));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const configPath = join(dir, "bots.yaml");
      writeFileSync(configPath, derived.text, { mode: 0o600 });

      for (const [i, id] of derived.admins.entries()) fake.world.addUser(i === 0 ? "Admin" : `Admin ${i + 1}`, id);
      fake.world.addUser("Alice");

      const host = new HostChild(configPath, derived.env);
      cleanup.push(() => host.stop());
      for (const n of notes) log.info(n);
      const session: Session = { fake, host, inspector, bots, notes, state: state.kind, admins: derived.admins };
      const server = await PlaygroundServer.start(session, o.listen, log);
      cleanup.push(() => server.close());
      host.on("status", (s) => log.info({ host: s.state, pid: s.pid }, `host ${s.state}`));
      host.on("line", (line) => relay(log, line));
      await host.start();
      return new Playground(session, server, cleanup, server.url);
    } catch (err) {
      await undo();
      throw err;
    }
  }

  /** Stops the host child gracefully, then the page's server, the fake Bot API and the playground's own Redis. */
  async stop(): Promise<void> {
    const order = this.cleanup.splice(0).reverse();
    for (const fn of order) await Promise.resolve(fn()).catch(() => undefined);
  }

  /** The session (for tests). */
  get parts(): Session {
    return this.session;
  }

  /** The page's server (for tests). */
  get http(): PlaygroundServer {
    return this.server;
  }
}

function view(b: PlaygroundBot): BotView {
  return { id: b.id, enabled: b.enabled, telegramId: b.telegramId, name: titleCase(b.id), username: usernameOf(b.id) };
}

async function chooseState(
  redis: { target: { kind: string }; url: string; key_prefix: string } | undefined,
): Promise<{ state: StateChoice; ownRedis?: OwnRedis; note: string }> {
  // A cluster or Sentinel is left alone: the playground's own redis-server is enough to show the bots.
  if (redis !== undefined && redis.target.kind === "server") {
    // Its own prefix: the playground's bots share ids with the real ones, whose journal and offsets must stay apart.
    const keyPrefix = `${redis.key_prefix}playground:`;
    return {
      state: { kind: "redis", url: redis.url, keyPrefix },
      note: `state: the config's Redis ${redactUrl(redis.url)}, under ${keyPrefix}`,
    };
  }
  if (hasRedisServer()) {
    const own = await startOwnRedis();
    return {
      state: { kind: "redis", url: own.url, keyPrefix: DEFAULT_KEY_PREFIX },
      ownRedis: own,
      note: `state: a redis-server of this session (${own.url}, nothing saved to disk), so conversations survive restarts and kills`,
    };
  }
  return {
    state: { kind: "memory" },
    note: "state: in memory (no redis.url and no redis-server on PATH): a restart or kill of the host loses every conversation",
  };
}

const LEVELS: Record<number, "trace" | "debug" | "info" | "warn" | "error" | "fatal"> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/** Writes a host line to the playground's log, marked as the host's. */
function relay(log: Logger, line: Record<string, unknown>): void {
  const { msg, level, time: _t, pid: _p, hostname: _h, component, ...rest } = line;
  const method = LEVELS[typeof level === "number" ? level : 30] ?? "info";
  log[method]({ component: typeof component === "string" ? `host/${component}` : "host", ...rest }, typeof msg === "string" ? msg : "");
}
