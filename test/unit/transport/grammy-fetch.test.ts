import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const MODULE = resolve(import.meta.dirname, "../../../dist/src/transport/grammy-fetch.js");

// In a process of its own: it must run before grammY is first loaded. The child (arguments: `defer` or `plain`,
// then `own-first` or `call-first`) loads grammY, reports whether node-fetch's whatwg-url was loaded, makes a call
// through grammY's default transport (no `fetch` given) against a local server, reports again, and checks that an
// app's own `require("node-fetch")` (before that call with `own-first`) gets node-fetch's real exports.
const SCRIPT = `
import { createRequire } from "node:module";
import { createServer } from "node:http";
const { deferGrammyDefaultFetch } = await import(${JSON.stringify(MODULE)});
const installed = process.argv[1] === "defer" ? deferGrammyDefaultFetch() : false;
const { Api } = await import("grammy");
const req = createRequire(${JSON.stringify(resolve(import.meta.dirname, "../../../package.json"))});
const loaded = () => Object.keys(req.cache).some((k) => k.includes("/whatwg-url/"));
const atLoad = loaded();
const appRequire = createRequire(${JSON.stringify(resolve(import.meta.dirname, "../../../node_modules/grammy/package.json"))});
const ownWorks = () => {
  const nodeFetch = appRequire("node-fetch");
  return typeof nodeFetch === "function" && typeof nodeFetch.Headers === "function" && typeof nodeFetch.default === "function";
};
const ownFirst = process.argv[2] === "own-first" ? ownWorks() : undefined;
const server = createServer((_req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ ok: true, result: { id: 7, is_bot: true, first_name: "b", username: "b" } }));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const me = await new Api("1:x", { apiRoot: "http://127.0.0.1:" + server.address().port }).getMe();
server.close();
const afterCall = loaded();
// an app's own node-fetch, as node-fetch exports it: the function, with Headers and friends on it
console.log(JSON.stringify({ installed, atLoad, afterCall, me: me.id, own: ownFirst ?? ownWorks() }));
`;

function run(
  mode: "defer" | "plain",
  order = "call-first",
): { installed: boolean; atLoad: boolean; afterCall: boolean; me: number; own: boolean } {
  const out = spawnSync(process.execPath, ["--input-type=module", "-e", SCRIPT, mode, order], { encoding: "utf8" });
  expect(out.stderr).toBe("");
  return JSON.parse(out.stdout) as ReturnType<typeof run>;
}

describe("deferGrammyDefaultFetch", () => {
  it("keeps node-fetch out until grammY's default transport is used, which then works as before, as does an app's own node-fetch", () => {
    expect(run("defer")).toEqual({ installed: true, atLoad: false, afterCall: true, me: 7, own: true });
  });

  it("an app that requires node-fetch itself before any such call gets the real module", () => {
    expect(run("defer", "own-first")).toEqual({ installed: true, atLoad: false, afterCall: true, me: 7, own: true });
  });

  it("without it, grammY loads node-fetch as it loads", () => {
    expect(run("plain")).toMatchObject({ installed: false, atLoad: true, me: 7, own: true });
  });
});
