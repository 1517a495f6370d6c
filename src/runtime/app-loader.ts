import { pathToFileURL } from "node:url";
import { Composer, type Middleware, type MiddlewareFn } from "grammy";
import { BotHostError, ErrorCodes } from "../errors.js";
import type { HostContext } from "./context.js";

/**
 * Loads the `app` module once: its default export must be a grammY `Composer` (or `Bot`-like object with
 * `middleware()`) or a middleware function. The same instance then serves every bot.
 */
export async function loadApp(path: string): Promise<Middleware<HostContext>> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new BotHostError(ErrorCodes.APP_INVALID, `cannot load the app module ${path}: ${reason}`, { cause });
  }
  const app = mod.default;
  if (app instanceof Composer) return app as Composer<HostContext>;
  if (typeof app === "function") return app as Middleware<HostContext>;
  if (typeof app === "object" && app !== null && typeof (app as { middleware?: unknown }).middleware === "function") {
    return app as Middleware<HostContext>;
  }
  throw new BotHostError(ErrorCodes.APP_INVALID, `the app module ${path} must default-export a grammY Composer or a middleware function`);
}

/**
 * The app module as a part of the host: built before the module is loaded, so the shared pipeline can be
 * assembled around it up front; {@link start} loads it. No update reaches {@link middleware} before that: the
 * bots start after the app.
 */
export class AppModule {
  readonly name = "app";
  private loaded: MiddlewareFn<HostContext> | undefined;

  constructor(private readonly path: string) {}

  /** Loads the module (see {@link loadApp}). */
  async start(): Promise<void> {
    const app = await loadApp(this.path);
    this.loaded = typeof app === "function" ? app : app.middleware();
  }

  /** Nothing to release: the module stays loaded for the life of the process. */
  async stop(): Promise<void> {}

  /** The app's middleware. */
  readonly middleware: MiddlewareFn<HostContext> = (ctx, next) => {
    if (this.loaded === undefined) throw new BotHostError(ErrorCodes.APP_INVALID, `the app module ${this.path} is not loaded yet`);
    return this.loaded(ctx, next);
  };
}
