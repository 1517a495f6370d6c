import { AsyncLocalStorage } from "node:async_hooks";
import { BotHostError, ErrorCodes } from "../errors.js";
import type { KeyBuilder } from "../storage/keys.js";
import type { StateWrite } from "../storage/journal.js";
import type { StateStore } from "../storage/state-store.js";
import type { HostContext } from "./context.js";

/**
 * One update of one bot while it runs: the plugin state it reads and the writes it stages. The pipeline
 * opens a scope per update and commits its writes with the update's journal entry when the update finishes,
 * so plugin state is as atomic and as durable as the session.
 */
export class UpdateScope {
  private readonly writes = new Map<string, string | null>();
  private open = true;

  constructor(
    /** The update's context as the app's outer middleware sees it. */
    readonly ctx: HostContext,
    private readonly store: StateStore,
    private readonly keys: KeyBuilder,
  ) {}

  /** The configured id of the bot handling the update. */
  get botId(): string {
    return this.ctx.botId;
  }

  /** The full key of a plugin's state for this bot. */
  pluginKey(namespace: string, key: string): string {
    return this.keys.plugin(namespace, this.botId, key);
  }

  /** Reads a value by full key, seeing this update's own staged writes first. */
  async read(key: string): Promise<string | undefined> {
    if (this.writes.has(key)) return this.writes.get(key) ?? undefined;
    return this.store.read(key);
  }

  /** Stages a write (`null` deletes), to be committed when the update finishes. */
  stage(key: string, value: string | null): void {
    if (!this.open) {
      throw new BotHostError(
        ErrorCodes.PLUGIN_STATE_OUTSIDE_UPDATE,
        `plugin state ${key} was written after update ${this.ctx.update.update_id} of bot ${this.botId} finished; await every write inside the middleware`,
      );
    }
    this.writes.set(key, value);
  }

  /** Ends the scope and returns its staged writes; later writes are refused. */
  close(): StateWrite[] {
    this.open = false;
    return [...this.writes].map(([key, value]) => ({ key, value }));
  }

  /** Set once the update was set aside while its handler still ran: why its later Bot API calls are refused. */
  expired: BotHostError | undefined;

  /** Ends the scope of an update set aside while its handler runs on: nothing it does from now on is committed or sent. */
  expire(reason: BotHostError): void {
    this.open = false;
    this.expired = reason;
  }
}

/** What every copy of this module shares (an app may load its own copy of bot-host next to the host's). */
interface Registry {
  byContext: WeakMap<object, UpdateScope>;
  /** Created when a plugin needs the scope without a context; off until then, as it costs every promise. */
  current?: AsyncLocalStorage<UpdateScope>;
}

const REGISTRY = Symbol.for("bot-host.update-scopes");

function registry(): Registry {
  const g = globalThis as { [REGISTRY]?: Registry };
  g[REGISTRY] ??= { byContext: new WeakMap() };
  return g[REGISTRY];
}

/** Opens the scope of the update of `ctx`. */
export function openScope(ctx: HostContext, store: StateStore, keys: KeyBuilder): UpdateScope {
  const scope = new UpdateScope(ctx, store, keys);
  registry().byContext.set(ctx, scope);
  return scope;
}

/** Runs `fn` (the rest of the update's middleware) so that {@link currentScope} finds `scope`. */
export function runInScope<T>(scope: UpdateScope, fn: () => Promise<T>): Promise<T> {
  const current = registry().current;
  return current === undefined ? fn() : current.run(scope, fn);
}

/** Makes {@link currentScope} work for every update that starts from now on. */
export function trackScopes(): void {
  registry().current ??= new AsyncLocalStorage<UpdateScope>();
}

/** The scope of the update whose middleware is running now, if {@link trackScopes} was called. */
export function currentScope(): UpdateScope | undefined {
  return registry().current?.getStore();
}

/** The scope of the update of `ctx` (the context the app's outer middleware got). */
export function scopeOf(ctx: object): UpdateScope | undefined {
  return registry().byContext.get(ctx);
}

/** The error for plugin state used where no update is being handled (a timer, a broadcast job). */
export function outsideUpdate(what: string): BotHostError {
  return new BotHostError(
    ErrorCodes.PLUGIN_STATE_OUTSIDE_UPDATE,
    `${what} was used outside the handling of an update, so it cannot know which bot the state belongs to; ` +
      "use it only in middleware the host runs (a timer or a broadcast job must keep its own state)",
  );
}
