import { describe, expect, inject, it } from "vitest";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { freePort } from "../support/redis-server.js";
import { buildYaml, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { webhookSecretFor } from "../../src/config/webhook-secret.js";

const redisUrl = inject("redisUrl");
const BOTS = [1, 2, 3].map((n) => ({ id: `w${n}`, token: fakeToken(40 + n) }));
const secretOf = (b: { id: string; token: string }): string => webhookSecretFor(b, undefined);
const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });

describe("webhook mode, health, readiness and metrics", () => {
  const fx = useHost({ drainTimeoutMs: 2_000, ignoreStopErrors: true });
  let fake: LocalBotApi;

  async function start(extra = ""): Promise<{ base: string }> {
    fake = await fx.startFake({ webhookRetryDelayMs: 100 });
    for (const b of BOTS) fake.addBot(b.token);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const yaml = buildYaml({
      apiRoot: fake.apiRoot,
      redisUrl,
      prefix: uniquePrefix(),
      bots: BOTS,
      http: `http:\n  listen: "127.0.0.1:${port}"`,
      extra: `mode: webhook\nwebhook:\n  public_url: ${base}\n  path_prefix: /tg\n${extra}`,
    });
    await fx.start(yaml);
    return { base };
  }

  it("sets each webhook with its secret, then answers updates Telegram posts; the same chat id keeps separate state per bot", async () => {
    const { base } = await start();
    for (const b of BOTS) {
      expect(fake.webhook(b.token)).toMatchObject({ url: `${base}/tg/${b.id}`, secret_token: secretOf(b), max_connections: 40 });
    }
    fake.inject(BOTS[0]!.token, message(42, "one"));
    fake.inject(BOTS[0]!.token, message(42, "two"));
    fake.inject(BOTS[1]!.token, message(42, "uno"));
    fake.inject(BOTS[2]!.token, message(7, "eins"));
    await fake.waitForSent(BOTS[0]!.token, 2);
    await fake.waitForSent(BOTS[1]!.token, 1);
    await fake.waitForSent(BOTS[2]!.token, 1);
    expect(fake.sent(BOTS[0]!.token).map((s) => s.text.split("|").slice(2))).toEqual([
      ["1", "one"],
      ["2", "two"],
    ]);
    expect(fake.sent(BOTS[1]!.token).map((s) => s.text.split("|").slice(2))).toEqual([["1", "uno"]]);
    // the host replies before it answers the webhook request: wait for the answers too
    await fake.waitFor(() => fake.deliveries(BOTS[0]!.token).length === 2);
    expect(fake.deliveries(BOTS[0]!.token).map((d) => d.status)).toEqual([200, 200]);
  });

  it("rejects bad requests with clear codes, never reaches the app, and keeps serving", async () => {
    const { base } = await start();
    const b = BOTS[0]!;
    const url = `${base}/tg/${b.id}`;
    const good = { "x-telegram-bot-api-secret-token": secretOf(b) };
    const update = JSON.stringify({ update_id: 999_000, ...message(5, "valid") });
    expect((await post(url, update, { "x-telegram-bot-api-secret-token": "wrong" })).status).toBe(401);
    expect((await post(url, update)).status).toBe(401);
    expect((await post(`${base}/tg/nobody`, update, good)).status).toBe(404);
    expect((await post(`${base}/tg/%E0%A4%A`, update, good)).status).toBe(404); // not a URI: once a crash
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(url, { headers: good })).status).toBe(405);
    expect((await post(url, JSON.stringify({ update_id: 1, pad: "x".repeat(2 * 1024 * 1024) }), good)).status).toBe(413);
    expect((await post(url, "{not json", good)).status).toBe(400);
    expect((await post(url, JSON.stringify({ hello: "world" }), good)).status).toBe(400);
    expect((await post(url, JSON.stringify([1, 2]), good)).status).toBe(400);
    expect(fake.sent(b.token)).toEqual([]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).not.toMatch(/bot_host_updates_received_total\{bot="w1"/);
    const res = await post(url, update, good);
    expect(res.status).toBe(200);
    expect(fake.sent(b.token).map((s) => s.text.split("|")[3])).toEqual(["valid"]);
  });

  it("handles an update delivered twice only once: while the first is in flight, and after it finished", async () => {
    const { base } = await start();
    const b = BOTS[1]!;
    const url = `${base}/tg/${b.id}`;
    const headers = { "x-telegram-bot-api-secret-token": secretOf(b) };
    const update = JSON.stringify({ update_id: 777_001, ...message(9, "twice sleep=300") });
    const [first, second] = await Promise.all([
      post(url, update, headers),
      new Promise((r) => setTimeout(r, 50)).then(() => post(url, update, headers)),
    ]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect((await post(url, update, headers)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(fake.sent(b.token).map((s) => s.text.split("|").slice(2))).toEqual([["1", "twice"]]);
  });

  it("/readyz turns 200 when the bots are up and 503 on shutdown; /metrics counts what was handled", async () => {
    const { base } = await start();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      ready: true,
      draining: false,
      bots: { w1: { state: "running" }, w2: { state: "running" } },
    });
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    for (let i = 0; i < 5; i++) fake.inject(BOTS[2]!.token, message(100 + i, `m${i}`));
    await fake.waitForSent(BOTS[2]!.token, 5);
    // an update is counted once its journal entry is committed, just after its reply
    let metrics = "";
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      metrics = await (await fetch(`${base}/metrics`)).text();
      if (metrics.includes('bot_host_updates_handled_total{bot="w3",type="message",outcome="ok"} 5')) break;
    }
    expect(metrics).toContain('bot_host_updates_handled_total{bot="w3",type="message",outcome="ok"} 5');
    expect(metrics).toContain('bot_host_updates_received_total{bot="w3",type="message"} 5');
    expect(metrics).toContain('bot_host_bot_up{bot="w1"} 1');
    expect(metrics).toContain("bot_host_redis_connected 1");
    expect(metrics).toMatch(/bot_host_api_calls_total\{bot="w3",method="sendMessage"\} 5/);
    expect(metrics).toContain("bot_host_process_resident_memory_bytes");
    const stopping = fx.host.stop();
    const during = await fetch(`${base}/readyz`).catch(() => undefined);
    if (during !== undefined) expect(during.status).toBe(503);
    await stopping;
  });
});

describe("readiness while starting", () => {
  it("answers webhook requests 503 with Retry-After while the app still loads, and a stop then ends the start", async () => {
    const fake = await LocalBotApi.start();
    const b = { id: "early", token: fakeToken(61) };
    fake.addBot(b.token);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const { loadConfig } = await import("../../src/config/index.js");
    const { Host } = await import("../../src/host/host.js");
    const { memoryLogger, writeConfig, fixture } = await import("../support/harness.js");
    process.env.BOT_HOST_TEST_APP_DELAY = "600000";
    const yaml = buildYaml({
      apiRoot: fake.apiRoot,
      redisUrl,
      prefix: uniquePrefix(),
      bots: [b],
      app: fixture("slow-app.js"),
      http: `http:\n  listen: "127.0.0.1:${port}"`,
      extra: "mode: webhook",
    });
    const h = new Host(await loadConfig(writeConfig(yaml), {}), memoryLogger().logger);
    const started = h.start();
    await fake.waitFor(() => h.httpAddress !== undefined && h.httpAddress.port === port, 10_000, "the HTTP server");
    const res = await post(`${base}/telegram/${b.id}`, JSON.stringify({ update_id: 1, ...message(1, "early") }), {
      "x-telegram-bot-api-secret-token": secretOf(b),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, store: { name: "redis", ok: true }, bots: {} });
    await h.stop(); // does not wait for the app module, which would take ten minutes
    expect(await started).toMatchObject({ enabled: 1, running: [] });
    expect(fake.calls(b.token)).toEqual([]);
    await fake.stop();
  });

  it("is 503 until the bots are up", async () => {
    const fake = await LocalBotApi.start();
    const token = fakeToken(60);
    fake.addBot(token);
    fake.failNext(token, "getMe", 500, 3); // the start takes a few retries
    const port = await freePort();
    const { loadConfig } = await import("../../src/config/index.js");
    const { Host } = await import("../../src/host/host.js");
    const { memoryLogger, writeConfig } = await import("../support/harness.js");
    const yaml = buildYaml({
      apiRoot: fake.apiRoot,
      redisUrl,
      prefix: uniquePrefix(),
      bots: [{ id: "slow", token }],
      http: `http:\n  listen: "127.0.0.1:${port}"`,
    });
    const h = new Host(await loadConfig(writeConfig(yaml), {}), memoryLogger().logger);
    const started = h.start();
    await fake.waitFor(() => fake.callCount(token, "getMe") >= 1);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    await started;
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    await h.stop();
    await fake.stop();
  });
});
