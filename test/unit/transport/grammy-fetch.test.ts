import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const MODULE = resolve(import.meta.dirname, "../../../dist/src/transport/grammy-fetch.js");

// In a process of its own: it must run before grammY is first loaded. The child loads grammY, reports whether
// node-fetch's whatwg-url was loaded, then makes a call through grammY's default transport (no `fetch` given)
// against a local server, and reports again.
const SCRIPT = `
import { createRequire } from "node:module";
import { createServer } from "node:http";
const { deferGrammyDefaultFetch } = await import(${JSON.stringify(MODULE)});
const installed = process.argv[1] === "defer" ? deferGrammyDefaultFetch() : false;
const { Api } = await import("grammy");
const req = createRequire(${JSON.stringify(resolve(import.meta.dirname, "../../../package.json"))});
const loaded = () => Object.keys(req.cache).some((k) => k.includes("/whatwg-url/"));
const atLoad = loaded();
const server = createServer((_req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ ok: true, result: { id: 7, is_bot: true, first_name: "b", username: "b" } }));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const me = await new Api("1:x", { apiRoot: "http://127.0.0.1:" + server.address().port }).getMe();
server.close();
console.log(JSON.stringify({ installed, atLoad, afterCall: loaded(), me: me.id }));
`;

function run(mode: "defer" | "plain"): { installed: boolean; atLoad: boolean; afterCall: boolean; me: number } {
  const out = spawnSync(process.execPath, ["--input-type=module", "-e", SCRIPT, mode], { encoding: "utf8" });
  expect(out.stderr).toBe("");
  return JSON.parse(out.stdout) as ReturnType<typeof run>;
}

describe("deferGrammyDefaultFetch", () => {
  it("keeps node-fetch out until grammY's default transport is used, which then works as before", () => {
    expect(run("defer")).toEqual({ installed: true, atLoad: false, afterCall: true, me: 7 });
  });

  it("without it, grammY loads node-fetch as it loads", () => {
    expect(run("plain")).toMatchObject({ installed: false, atLoad: true, me: 7 });
  });
});
