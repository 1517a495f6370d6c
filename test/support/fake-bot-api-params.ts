import type { IncomingMessage } from "node:http";

/** Parameters of a Bot API call. */
export type Params = Record<string, unknown>;

const MAX_BODY = 5 * 1024 * 1024;

/** Reads a call's parameters from the query string and a JSON, urlencoded or multipart body, as Telegram does. */
export async function readParams(req: IncomingMessage): Promise<Params> {
  const url = new URL(req.url ?? "/", "http://fake");
  const params: Params = {};
  for (const [k, v] of url.searchParams) params[k] = decode(v);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return params;
  const body = Buffer.concat(chunks).toString("utf8");
  const type = req.headers["content-type"] ?? "";
  if (type.startsWith("application/json")) {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed !== "object" || parsed === null) throw new Error("not an object");
    Object.assign(params, parsed);
  } else if (type.startsWith("application/x-www-form-urlencoded")) {
    for (const [k, v] of new URLSearchParams(body)) params[k] = decode(v);
  } else if (type.startsWith("multipart/form-data")) {
    const boundary = /boundary=(.+)$/.exec(type)?.[1];
    if (boundary === undefined) throw new Error("no boundary");
    for (const part of body.split(`--${boundary}`)) {
      const m = /name="([^"]+)"(?:; filename="[^"]*")?\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*)\r\n$/.exec(part);
      if (m !== null) params[m[1]!] = decode(m[2]!);
    }
  }
  return params;
}

/** Form values are strings; numbers, booleans and JSON (reply_markup, allowed_updates) are decoded. */
function decode(v: string): unknown {
  if (/^-?\d+$/.test(v)) return Number(v);
  if (v === "true" || v === "false") return v === "true";
  if (v.startsWith("[") || v.startsWith("{")) {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  }
  return v;
}
