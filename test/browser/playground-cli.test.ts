import { connect } from "node:net";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CliProcess } from "../support/cli.js";
import type { LogLine } from "../support/harness.js";

// The playground process itself, without a browser: its own redis-server when the config has no Redis, the page's
// API, and the order of its shutdown on SIGTERM.
const ROOT = resolve(import.meta.dirname, "../..");
const msg = (l: LogLine): string => (typeof l.msg === "string" ? l.msg : "");

function accepts(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), res(true)));
    s.once("error", () => res(false));
  });
}

describe("bot-host playground (no Redis configured, no token set)", () => {
  it("runs its own redis-server for the session, serves the API, and on SIGTERM stops the host, then its Redis, and exits 0", async () => {
    const cli = new CliProcess(["playground", "--config", resolve(ROOT, "bots.yaml"), "--listen", "127.0.0.1:0"]);
    try {
      expect(msg(await cli.waitForLog(() => true))).toMatch(/^playground: .*nothing is sent to Telegram/);
      const own = await cli.waitForLog((l) => msg(l).startsWith("state: a redis-server of this session"), 30_000);
      const redisPort = Number(/redis:\/\/127\.0\.0\.1:(\d+)/.exec(msg(own))![1]);
      const ready = await cli.waitForLog((l) => msg(l).startsWith("playground ready"), 30_000);
      await cli.waitForLog((l) => l.host === "running", 30_000);
      const api = `${String(ready.url)}/api/`;
      const state = (await (await fetch(`${api}state`)).json()) as { state: string; users: Array<{ id: number; first_name: string }> };
      expect(state.state).toBe("redis");
      const alice = state.users.find((u) => u.first_name === "Alice")!;

      const post = (path: string, body: unknown) =>
        fetch(api + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      // Mistakes (an unknown chat, a body that is not JSON) are answered 400, never taken as actions.
      expect((await post("send", { user: alice.id, chat: "nope", text: "x" })).status).toBe(400);
      expect((await fetch(`${api}users`, { method: "POST", body: "name=x" })).status).toBe(400);
      const chat = (await (await post("chats/private", { user: alice.id, bot: "sales" })).json()) as { key: string };
      expect((await post("send", { user: alice.id, chat: chat.key, text: "/start" })).status).toBe(200);
      for (;;) {
        const s = (await (await fetch(`${api}state`)).json()) as { chats: Array<{ key: string; messages: Array<{ text?: string }> }> };
        if (s.chats.find((c) => c.key === chat.key)?.messages.some((m) => m.text?.startsWith("Hello!"))) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await accepts(redisPort)).toBe(true);

      cli.kill("SIGTERM");
      expect(await cli.exitCode(30_000)).toBe(0);
      const order = cli.lines.map(msg).filter((m) => /^(host exited|playground stopping|shutdown complete)/.test(m));
      expect(order).toEqual([
        "playground stopping: the host (gracefully), the local Bot API, the session's Redis",
        "shutdown complete",
        "host exited",
        "shutdown complete",
      ]);
      expect(await accepts(redisPort)).toBe(false);
    } finally {
      cli.kill("SIGKILL");
    }
  }, 90_000);
});
