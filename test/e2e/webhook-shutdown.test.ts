import { afterEach, describe, expect, inject, it } from "vitest";
import { CliProcess } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { freePort } from "../support/redis-server.js";
import { buildYaml, fakeToken, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";
import { webhookSecretFor } from "../../src/config/webhook-secret.js";

const redisUrl = inject("redisUrl");
const BOT = { id: "hook", token: fakeToken(70) };
const up = (l: LogLine): boolean => l.msg === "all bots are up";

describe("webhook shutdown (real CLI)", () => {
  let fake: LocalBotApi;
  const procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs) p.kill("SIGKILL");
    await fake?.stop();
  });

  it("SIGTERM during a burst: new requests get 503, in-flight ones finish, exit 0, and nothing is lost", async () => {
    fake = await LocalBotApi.start();
    fake.addBot(BOT.token);
    const port = await freePort();
    const config = writeConfig(
      buildYaml({
        apiRoot: fake.apiRoot,
        redisUrl,
        prefix: uniquePrefix(),
        bots: [BOT],
        http: `http:\n  listen: "127.0.0.1:${port}"`,
        extra: "mode: webhook",
      }),
    );
    const url = `http://127.0.0.1:${port}/telegram/${BOT.id}`;
    const headers = { "content-type": "application/json", "x-telegram-bot-api-secret-token": webhookSecretFor(BOT, undefined) };
    // the first 30 are still running when the signal comes (they say "begin" when they start)
    const updates = Array.from({ length: 60 }, (_, i) =>
      JSON.stringify({ update_id: 5_000 + i, ...message(300 + i, i < 30 ? `u${i} sleep=1000 begin` : `u${i} sleep=100`) }),
    );
    // What Telegram does: deliver, and redeliver whatever did not get a 2xx.
    const deliver = async (body: string): Promise<number> => {
      try {
        return (await fetch(url, { method: "POST", headers, body })).status;
      } catch {
        return 0; // connection refused: the server is closed
      }
    };

    const p = new CliProcess(["start", "--config", config]);
    procs.push(p);
    await p.waitForLog(up);
    const first = updates.slice(0, 30).map((u) => deliver(u));
    await fake.waitFor(() => fake.sent(BOT.token).length >= 30, 5_000);
    p.kill("SIGTERM");
    await p.waitForLog((l) => l.step === 1);
    const late = await Promise.all(updates.slice(30).map((u) => deliver(u)));
    expect(late.every((s) => s === 503 || s === 0)).toBe(true);
    expect(late.filter((s) => s === 503).length).toBeGreaterThan(0);
    const early = await Promise.all(first);
    expect(early.every((s) => s === 200)).toBe(true); // accepted before the signal: finished, not cut
    expect(await p.exitCode()).toBe(0);

    const again = new CliProcess(["start", "--config", config]);
    procs.push(again);
    await again.waitForLog(up);
    const retried = await Promise.all(updates.map((u) => deliver(u))); // Telegram redelivers; old ones are duplicates
    expect(retried.every((s) => s === 200)).toBe(true);
    const finals = () => fake.sent(BOT.token).filter((s) => s.text.split("|").length === 4);
    await fake.waitFor(() => finals().length >= 60, 10_000);
    again.kill("SIGTERM");
    expect(await again.exitCode()).toBe(0);
    const labels = finals().map((s) => s.text.split("|")[3]);
    expect(labels.sort()).toEqual(Array.from({ length: 60 }, (_, i) => `u${i}`).sort());
  }, 60_000);
});
