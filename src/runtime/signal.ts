import type { Api } from "grammy";

/** The AbortSignal type grammY's API methods declare (from its `abort-controller` shim). */
export type GrammySignal = NonNullable<Parameters<Api["getMe"]>[0]>;

/**
 * Passes a standard `AbortSignal` to grammY. grammY on Node declares the `abort-controller` package's type,
 * which differs from the built-in one only in its event typings; at run time it accepts the built-in signal.
 */
export function toGrammySignal(signal: AbortSignal): GrammySignal {
  return signal as unknown as GrammySignal;
}
