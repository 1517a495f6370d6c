import { Api, type Context, type MiddlewareFn, type StorageAdapter } from "grammy";
import { chatKeyOf, type HostContext } from "./context.js";
import { currentScope, outsideUpdate, scopeOf, trackScopes, type UpdateScope } from "./update-scope.js";

/**
 * Plugin state under one shared Composer. A plugin's default storage is memory held by the app module, which
 * every bot shares: a conversation started with one bot would swallow the next message the same user sends to
 * another bot. These storages keep each plugin's state per bot, in the host's store, under
 * `<prefix>plugin:<namespace>:<botId>:<key>`, and stage each write until the update finishes, when it is
 * committed with the update's session write and journal entry in one atomic step.
 */

const NAMESPACE = /^[A-Za-z0-9_.-]{1,64}$/;

function checkNamespace(namespace: string): void {
  if (!NAMESPACE.test(namespace)) {
    throw new TypeError(`plugin namespace "${namespace}" must be 1-64 letters, digits, "_", "." or "-" (it is part of Redis keys)`);
  }
}

function parse<T>(raw: string | undefined): T | undefined {
  return raw === undefined ? undefined : (JSON.parse(raw) as T);
}

/**
 * A grammY `StorageAdapter` for any plugin that takes one (a second `session()`, @grammyjs/i18n with its own
 * session, a plugin of your own), kept per bot under `<prefix>plugin:<namespace>:<botId>:<key>`. Values must be
 * JSON-serializable. Writes are committed atomically with the update that made them; a read sees the update's
 * own earlier writes.
 *
 * It knows the bot from the update being handled, so it works only inside middleware the host runs; anywhere
 * else (a timer, a broadcast job) it throws a `BotHostError` with code `BOT_HOST_PLUGIN_STATE_OUTSIDE_UPDATE`.
 *
 * @param namespace names the plugin in the keys: 1-64 letters, digits, `_`, `.` or `-`.
 */
export function pluginStorage<T>(namespace: string): StorageAdapter<T> {
  checkNamespace(namespace);
  trackScopes();
  const scope = (): UpdateScope => currentScope() ?? throwOutside(`pluginStorage("${namespace}")`);
  return {
    async read(key) {
      const s = scope();
      return parse<T>(await s.read(s.pluginKey(namespace, key)));
    },
    write(key, value) {
      const s = scope();
      s.stage(s.pluginKey(namespace, key), JSON.stringify(value));
    },
    delete(key) {
      const s = scope();
      s.stage(s.pluginKey(namespace, key), null);
    },
  };
}

function throwOutside(what: string): never {
  throw outsideUpdate(what);
}

/** The shape `conversations({ storage })` of @grammyjs/conversations 2.x accepts for context-based storage. */
export interface ConversationContextStorage<C extends Context, S> {
  type: "context";
  version?: string | number;
  adapter: {
    read(ctx: C): Promise<S | undefined>;
    write(ctx: C, state: S): void;
    delete(ctx: C): void;
  };
}

/** Options of {@link conversationStorage}. */
export interface ConversationStorageOptions {
  /** Passed to the plugin: state saved under another version is discarded (change it when a conversation's code changes). */
  version?: string | number;
}

/**
 * Storage for @grammyjs/conversations that keeps each chat's conversations per bot:
 * `app.use(conversations({ storage: conversationStorage(), plugins: [hostContext()] }))`. Stored under
 * `<prefix>plugin:conversations:<botId>:<chatId>` (the user id for updates without a chat), with the session's
 * TTL, and committed with the update, so a restart or a SIGKILL continues the conversation where its last
 * finished update left it.
 */
export function conversationStorage<S = unknown, C extends HostContext = HostContext>(
  options: ConversationStorageOptions = {},
): ConversationContextStorage<C, S> {
  const where = (ctx: C): { scope: UpdateScope; key: string } => {
    const scope = scopeOf(ctx) ?? throwOutside("conversationStorage()");
    return { scope, key: scope.pluginKey("conversations", chatKeyOf(ctx) ?? "none") };
  };
  return {
    type: "context",
    ...(options.version === undefined ? {} : { version: options.version }),
    adapter: {
      async read(ctx) {
        const { scope, key } = where(ctx);
        return parse<S>(await scope.read(key));
      },
      write(ctx, state) {
        const { scope, key } = where(ctx);
        scope.stage(key, JSON.stringify(state));
      },
      delete(ctx) {
        const { scope, key } = where(ctx);
        scope.stage(key, null);
      },
    },
  };
}

/**
 * A conversation plugin that gives conversation steps the host's context: pass it in
 * `conversations({ plugins: [hostContext()] })` (or a conversation's own `plugins`). Inside the conversation
 * `ctx.botId`, `ctx.appConfig` and `ctx.log` are those of the update being handled, `ctx.session` is the chat's
 * live session, and `ctx.api` goes through the host's throttle, retries and metrics, under the plugin's own
 * replay layer (so a replayed step does not call Telegram again).
 *
 * Code before a conversation's latest `wait()` runs again on every update (that is how the plugin resumes), so
 * change `ctx.session` inside `conversation.external()`, which runs once.
 */
export function hostContext(): MiddlewareFn<Context> {
  trackScopes();
  return (inner, next) => {
    const scope = currentScope() ?? throwOutside("hostContext()");
    const outer = scope.ctx;
    const api = new Api(outer.api.token, outer.api.options);
    api.config.use(...outer.api.config.installedTransformers(), ...inner.api.config.installedTransformers());
    // A step still running after its update was set aside (the handler timeout) calls nothing more.
    api.config.use((prev, method, payload, signal) =>
      scope.expired === undefined ? prev(method, payload, signal) : Promise.reject(scope.expired),
    );
    Object.defineProperties(inner, {
      api: { value: api, configurable: true },
      botId: { value: outer.botId, configurable: true },
      appConfig: { value: outer.appConfig, configurable: true },
      log: { get: () => outer.log, configurable: true },
      session: {
        get: () => outer.session,
        set: (value: HostContext["session"]) => {
          outer.session = value;
        },
        configurable: true,
      },
    });
    return next();
  };
}
