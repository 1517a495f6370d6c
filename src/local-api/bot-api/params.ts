import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError, type Params } from "./types.js";

/** Bodies above this size are refused (Telegram's own limit for uploads is 50 MB). */
const MAX_BODY = 64 * 1024 * 1024;

/** Reads the whole request body. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new ApiError(413, "Request Entity Too Large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
    req.on("close", () => req.complete || reject(new Error("request aborted")));
  });
}

/**
 * The call parameters of a request, like the Bot API reads them: the query string, overridden by the body, which
 * may be JSON, `application/x-www-form-urlencoded`, or `multipart/form-data` (text fields as strings, file parts as
 * `{ filename, size }`). Throws a 400 {@link ApiError} for a body that cannot be parsed.
 */
export function parseParams(contentType: string | undefined, body: Buffer, query: string): Params {
  const params: Params = {};
  if (query !== "") for (const [k, v] of new URLSearchParams(query)) params[k] = v;
  if (body.length === 0) return params;
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("application/json")) {
    let value: unknown;
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch {
      throw new ApiError(400, "Bad Request: can't parse JSON object");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new ApiError(400, "Bad Request: can't parse JSON object");
    }
    return Object.assign(params, value);
  }
  if (type.startsWith("application/x-www-form-urlencoded")) {
    for (const [k, v] of new URLSearchParams(body.toString("utf8"))) params[k] = v;
    return params;
  }
  if (type.startsWith("multipart/form-data")) {
    const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
    const boundary = m?.[1] ?? m?.[2];
    if (boundary === undefined) throw new ApiError(400, "Bad Request: can't parse multipart/form-data: no boundary");
    return Object.assign(params, parseMultipart(body, boundary));
  }
  return params;
}

/** A minimal multipart/form-data parser: text fields become strings, file parts `{ filename, size }`. */
function parseMultipart(body: Buffer, boundary: string): Params {
  const out: Params = {};
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // "--": the closing delimiter
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const headerEnd = body.indexOf("\r\n\r\n", pos);
    if (headerEnd === -1) break;
    const next = body.indexOf(delimiter, headerEnd + 4);
    if (next === -1) break;
    const end = body[next - 2] === 0x0d && body[next - 1] === 0x0a ? next - 2 : next;
    const headers = body.toString("utf8", pos, headerEnd);
    const name = /(?:^|;)\s*name="([^"]*)"/im.exec(headers)?.[1];
    // Quoted or not: grammY sends `filename=<name>` bare, and Telegram takes both.
    const filename = /filename=(?:"([^"]*)"|([^;\r\n]*))/i
      .exec(headers)
      ?.slice(1)
      .find((f) => f !== undefined);
    if (name !== undefined) {
      out[name] = filename === undefined ? body.toString("utf8", headerEnd + 4, end) : { filename, size: end - headerEnd - 4 };
    }
    pos = next;
  }
  if (pos === -1 && Object.keys(out).length === 0) {
    throw new ApiError(400, "Bad Request: can't parse multipart/form-data");
  }
  return out;
}

/** Writes a JSON answer (with `Retry-After` for 429s, like Telegram). Does nothing if the client already left. */
export function sendJson(res: ServerResponse, status: number, body: string, retryAfter?: number): void {
  if (res.writableEnded || res.destroyed) return;
  const headers: Record<string, string | number> = {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  };
  if (retryAfter !== undefined) headers["retry-after"] = retryAfter;
  res.writeHead(status, headers);
  res.end(body);
}

/** The JSON body of an error answer. */
export function errorBody(err: ApiError): string {
  const out: Record<string, unknown> = { ok: false, error_code: err.code, description: err.description };
  if (err.parameters !== undefined) out.parameters = err.parameters;
  return JSON.stringify(out);
}

/** An integer argument like the Bot API reads it: absent or empty → `def`, otherwise truncated and clamped. */
export function intArg(value: unknown, def: number, min = -Infinity, max = Infinity): number {
  if (value === undefined || value === null || value === "") return def;
  let n: number;
  if (typeof value === "number") n = Math.trunc(value);
  else if (typeof value === "boolean") n = value ? 1 : 0;
  else n = Number.parseInt(String(value), 10);
  if (!Number.isFinite(n)) n = 0;
  return Math.min(max, Math.max(min, n));
}

/** A boolean argument like the Bot API reads it (`true`, `1`, `yes` in any case). */
export function boolArg(value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value !== "string") return false;
  const v = value.trim().toLowerCase();
  return v === "true" || v === "1" || v === "yes";
}

/** A string argument (numbers are stringified); undefined when absent. */
export function strArg(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  return undefined;
}

/** A JSON-valued argument: objects as they are, strings parsed (from forms); undefined when absent. */
export function jsonArg(value: unknown, what: string): unknown {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ApiError(400, `Bad Request: can't parse ${what} JSON object`);
  }
}

/** A chat id: an integer (also from a numeric string) or an `@username`; undefined when absent. */
export function chatIdArg(value: unknown): number | string | undefined {
  if (typeof value === "number") return Math.trunc(value);
  if (typeof value !== "string" || value.trim() === "") return undefined;
  const v = value.trim();
  return /^-?\d+$/.test(v) ? Number(v) : v;
}

/** The path segment decoded (as it came when it is not valid percent-encoding). */
export function decodePath(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** An AbortSignal that fires when the client closes the connection before the answer is written. */
export function closeSignal(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}
