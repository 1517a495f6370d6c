import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSharedTransport, type SharedTransport } from "../../src/transport/shared-transport.js";

describe("shared transport", () => {
  let server: Server;
  let base: string;
  let transport: SharedTransport;
  const held: ServerResponse[] = [];
  const seen: Array<{ method: string; url: string; body: string; type: string | undefined }> = [];

  beforeEach(async () => {
    seen.length = 0;
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", body, type: req.headers["content-type"] });
        if (req.url?.endsWith("/hold")) return void held.push(res);
        if (req.url?.endsWith("/big")) {
          // Sent in several writes, so the client sees several chunks.
          res.writeHead(200, { "content-type": "application/json" });
          res.write(`{"ok":true,"result":[`);
          for (let i = 0; i < 2_000; i++) res.write(`${i === 0 ? "" : ","}"${"x".repeat(50)}${i}"`);
          return void res.end("]}");
        }
        if (req.url?.endsWith("/broken")) return void res.writeHead(200).end("{not json");
        const status = req.url?.endsWith("/missing") ? 404 : 200;
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ ok: status === 200, echo: body }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
    transport = createSharedTransport({ connections: 1 });
  });

  afterEach(async () => {
    for (const res of held.splice(0)) res.destroy();
    await transport.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("sends method, path under the API root, headers and body, and returns status and JSON", async () => {
    const res = await transport.fetch(`${base}/botTOKEN/sendMessage`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"chat_id":1}',
    });
    expect(res.status).toBe(200);
    expect(res.ok).toBe(true);
    expect(await res.json()).toEqual({ ok: true, echo: '{"chat_id":1}' });
    expect(seen).toEqual([{ method: "POST", url: "/prefix/botTOKEN/sendMessage", body: '{"chat_id":1}', type: "application/json" }]);
  });

  it("streams a multipart body and reports a non-2xx status as not ok", async () => {
    const res = await transport.fetch(`${base}/missing`, { method: "POST", body: Readable.from(["part1", "part2"]) });
    expect(res.status).toBe(404);
    expect(res.ok).toBe(false);
    expect(await res.json()).toEqual({ ok: false, echo: "part1part2" });
  });

  it("joins a body that arrives in many chunks", async () => {
    const body = (await (await transport.fetch(`${base}/big`)).json()) as { result: string[] };
    expect(body.result).toHaveLength(2_000);
    expect(body.result[1999]).toBe(`${"x".repeat(50)}1999`);
  });

  it("rejects json() on a body that is not JSON", async () => {
    const res = await transport.fetch(`${base}/broken`);
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });

  it("rejects at once when aborted, also while waiting for a free socket, and the pool goes on", async () => {
    const longPoll = new AbortController();
    const first = transport.fetch(`${base}/hold`, { signal: longPoll.signal });
    await expect.poll(() => held.length).toBe(1);
    // The only socket is taken: this one waits in the queue, and its abort must not wait for the socket.
    const queued = new AbortController();
    const second = transport.fetch(`${base}/queued`, { signal: queued.signal });
    queued.abort(new Error("stop queued"));
    await expect(second).rejects.toThrow("stop queued");
    longPoll.abort();
    await expect(first).rejects.toThrow();
    const res = await transport.fetch(`${base}/after`);
    expect(await res.json()).toEqual({ ok: true, echo: "" });
    expect(seen.map((s) => s.url)).toEqual(["/prefix/hold", "/prefix/after"]);
  });

  it("rejects a request whose signal is already aborted without sending it", async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(transport.fetch(`${base}/never`, { signal: ac.signal })).rejects.toThrow();
    await transport.fetch(`${base}/after`);
    expect(seen.map((s) => s.url)).toEqual(["/prefix/after"]);
  });

  it("rejects when the server is unreachable", async () => {
    const closed = createSharedTransport({ connections: 1 });
    await expect(closed.fetch("http://127.0.0.1:9/botX/getMe")).rejects.toThrow();
    await closed.destroy();
  });
});
