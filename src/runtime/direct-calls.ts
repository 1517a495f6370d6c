import { HttpError, InputFile, type Transformer } from "grammy";
import type { SharedTransport } from "../transport/shared-transport.js";

/** What {@link directCalls} sends with. */
export interface DirectCallsOptions {
  apiRoot: string;
  token: string;
  post: SharedTransport["post"];
  /** Gives up on a call after this many ms. */
  timeoutMs: number;
}

/**
 * The innermost transformer of a bot's `Api`: a call with a JSON payload goes straight to the shared transport,
 * in place of grammY's own request (which, for every call, makes an `abort-controller` shim, a timeout timer and
 * two more promises to race, and copies the fetch options). Everything a transformer sees is unchanged: it is
 * installed first, so the host's transformers (metrics, retries, the throttle, the lease guard) and those a plugin
 * installs on `ctx.api` (hydrate, parse-mode, the conversations plugin's replay) all run outside it, and grammY
 * still turns an error answer into a `GrammyError`. A network failure is an `HttpError`, as grammY makes it. A
 * payload with a file to upload (an `InputFile`) goes through grammY's request, which builds the multipart body.
 */
export function directCalls(o: DirectCallsOptions): Transformer {
  const base = `${o.apiRoot}/bot${o.token}/`;
  const direct = (prev: Parameters<Transformer>[0], method: string, payload: unknown, signal?: Parameters<Transformer>[3]) => {
    if (hasFile(payload)) return prev(method as never, payload as never, signal);
    // grammY declares the `abort-controller` shim's signal type; what arrives is an AbortSignal either way.
    const options = { signal: signal as AbortSignal | undefined, timeoutMs: o.timeoutMs };
    return o.post(base + method, JSON.stringify(payload ?? {}, withoutNull), options).catch((err: unknown) => {
      throw new HttpError(`Network request for '${method}' failed!`, err);
    });
  };
  return direct as Transformer;
}

// As grammY serializes a payload: a null field is left out.
function withoutNull(_key: string, value: unknown): unknown {
  return value ?? undefined;
}

/** Whether `payload` holds a file to upload, at any depth (as grammY decides it needs multipart). */
function hasFile(payload: unknown): boolean {
  if (payload instanceof InputFile) return true;
  if (typeof payload !== "object" || payload === null) return false;
  for (const value of Object.values(payload)) {
    if (Array.isArray(value) ? value.some(hasFile) : hasFile(value)) return true;
  }
  return false;
}
