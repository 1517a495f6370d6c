import { writeFileSync } from "node:fs";
import { afterEach, describe, expect, inject, it } from "vitest";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { fakeToken, fixture, memoryLogger, uniquePrefix, writeConfig } from "../support/harness.js";
import { message } from "../support/updates.js";
import { loadConfig } from "../../src/config/index.js";
import { Host } from "../../src/host/host.js";

const redisUrl = inject("redisUrl");
const A = { id: "brand-a", token: fakeToken(300) };
const B = { id: "brand-b", token: fakeToken(301) };

/** A bots.yaml where each bot has its own app_config (merged over the top level) and its own outgoing pace. */
function yamlFor(apiRoot: string, prefix: string, aGreeting: string): string {
  return `app: ${fixture("config-app.js")}
api_root: ${apiRoot}
app_config:
  brand: shared
  admin_chats: [1, 2]
  texts: { hello: "Hi", bye: "Bye" }
redis:
  url: ${redisUrl}
  key_prefix: "${prefix}"
leases:
  ttl: 5
polling:
  timeout: 1
http:
  listen: "127.0.0.1:0"
limits:
  outgoing: { per_bot: 30, per_chat: 100, per_group: 1000 }
bots:
  - id: ${A.id}
    token: "${A.token}"
    app_config:
      brand: A
      admin_chats: [10]
      texts: { hello: "${aGreeting}" }
    limits:
      outgoing: { per_bot: 2 }
  - id: ${B.id}
    token: "${B.token}"
    app_config:
      texts: { bye: "Ciao" }
    limits:
      outgoing: { per_bot: 10 }
`;
}

/** The largest number of sends that arrived within any `ms` window. */
function densest(times: readonly number[], ms: number): number {
  const t = [...times].sort((x, y) => x - y);
  let most = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= ms) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe("per-bot settings under one shared app", () => {
  let fake: LocalBotApi | undefined;
  let host: Host | undefined;
  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await fake?.stop();
  });

  it("each bot answers with its own app_config and keeps its own pace; a reload changing one bot's app_config restarts only that bot", async () => {
    fake = await LocalBotApi.start();
    for (const b of [A, B]) fake.addBot(b.token);
    const prefix = uniquePrefix();
    const path = writeConfig(yamlFor(fake.apiRoot, prefix, "Hello from A"));
    const { logger, lines } = memoryLogger();
    host = new Host(await loadConfig(path, {}), logger, { configPath: path, watchConfig: false });
    await host.start();

    // 12 messages to each bot, each in its own chat: only the per-bot limit holds them back
    for (let i = 0; i < 12; i++) {
      fake.inject(A.token, message(100 + i, `a${i}`));
      fake.inject(B.token, message(100 + i, `b${i}`));
    }
    await fake.waitForSent(A.token, 12, 30_000);
    await fake.waitForSent(B.token, 12, 30_000);
    const [aFirst] = fake.sent(A.token);
    const [bFirst] = fake.sent(B.token);
    // merged: mappings key by key (texts), lists and scalars replaced (admin_chats, brand)
    expect(JSON.parse(aFirst!.text.split("|")[1]!)).toEqual({
      brand: "A",
      admin_chats: [10],
      texts: { hello: "Hello from A", bye: "Bye" },
    });
    expect(JSON.parse(bFirst!.text.split("|")[1]!)).toEqual({ brand: "shared", admin_chats: [1, 2], texts: { hello: "Hi", bye: "Ciao" } });
    const aRate = densest(
      fake.sent(A.token).map((s) => s.at),
      1_000,
    );
    const bRate = densest(
      fake.sent(B.token).map((s) => s.at),
      1_000,
    );
    expect(aRate).toBeLessThanOrEqual(2);
    expect(bRate).toBeLessThanOrEqual(10);
    expect(bRate).toBeGreaterThan(2); // B is not held to A's pace

    // A reload that changes A's app_config: A alone restarts, with its new values; nothing is lost
    writeFileSync(path, yamlFor(fake.apiRoot, prefix, "Welcome to A"));
    const report = await host.reload("test");
    expect(report).toMatchObject({ ok: true, restarted: [A.id], unchanged: [B.id], added: [], removed: [] });
    expect(lines.filter((l) => l.msg === "bot started" && l.bot === B.id)).toHaveLength(1);
    fake.inject(A.token, message(200, "after"));
    fake.inject(B.token, message(200, "after"));
    await fake.waitForSent(A.token, 13);
    await fake.waitForSent(B.token, 13);
    expect(JSON.parse(fake.sent(A.token)[12]!.text.split("|")[1]!)).toMatchObject({ texts: { hello: "Welcome to A" } });
    const labels = (t: string): string[] =>
      fake!
        .sent(t)
        .map((s) => s.text.split("|")[2]!)
        .sort();
    expect(labels(A.token)).toEqual([...Array.from({ length: 12 }, (_, i) => `a${i}`), "after"].sort());
    expect(labels(B.token)).toEqual([...Array.from({ length: 12 }, (_, i) => `b${i}`), "after"].sort());
  }, 60_000);
});
