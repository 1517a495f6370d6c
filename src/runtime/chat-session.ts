import type { StateWrite } from "../storage/journal.js";
import type { HostContext, SessionData } from "./context.js";

const NO_KEY = "ctx.session is not available: this update has no chat and no sender, so it belongs to no chat's session";

/**
 * Gives `ctx.session` the chat's session as read with the update's start (`raw`, its stored JSON), `{}` when
 * there is none, and returns what to commit when the update ends: its write (or delete) if the app read or set
 * it, nothing otherwise. The session belongs to the update that read it: a handler set aside after a timeout
 * can change its `ctx.session` as it likes, nobody commits it. With `always`, a session that was only read is
 * written back too (so its expiry starts again, as grammY's `session()` does); without it, an unchanged
 * session is not written.
 */
export function attachSession(ctx: HostContext, key: string | undefined, raw: string | undefined, always: boolean): () => StateWrite[] {
  let value: SessionData | null | undefined;
  let touched = false;
  Object.defineProperty(ctx, "session", {
    configurable: true,
    enumerable: true,
    get(): SessionData | null | undefined {
      if (key === undefined) throw new Error(NO_KEY);
      if (!touched) {
        value = raw === undefined ? {} : (JSON.parse(raw) as SessionData);
        touched = true;
      }
      return value;
    },
    set(next: SessionData | null | undefined) {
      if (key === undefined) throw new Error(NO_KEY);
      value = next;
      touched = true;
    },
  });
  return () => {
    if (key === undefined || !touched) return [];
    const next = value === null || value === undefined ? null : JSON.stringify(value);
    if (!always && next === (raw ?? null)) return [];
    if (next === null && raw === undefined) return [];
    return [{ key, value: next }];
  };
}
