import { afterEach, describe, expect, inject, it } from "vitest";
import { CliProcess } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { freePort } from "../support/redis-server.js";
import { buildYaml, expectSessionCounts, fakeToken, fixture, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";

const redisUrl = inject("redisUrl");
const BOTS = [1, 2].map((n) => ({ id: `ws${n}`, token: fakeToken(130 + n) }));
const CHATS = 8;
const up = (l: LogLine): boolean => l.msg === "all bots are up";

describe("webhook traffic during start (real CLI, slow app)", () => {
  let fake: LocalBotApi | undefined;
  const procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs) p.kill("SIGKILL");
    procs.length = 0;
    await fake?.stop();
  });

  it("ten starts under full-speed redelivery: never a crash, every update handled exactly once", async () => {
    // Telegram keeps redelivering what did not get a 2xx; here it does so every 5 ms, so requests arrive while
    // the HTTP server listens but the app module is still loading.
    fake = await LocalBotApi.start({ webhookRetryDelayMs: 5 });
    for (const b of BOTS) fake.addBot(b.token);
    const port = await freePort();
    const prefix = uniquePrefix();
    const config = writeConfig(
      buildYaml({
        apiRoot: fake.apiRoot,
        redisUrl,
        prefix,
        bots: BOTS,
        app: fixture("slow-app.js"),
        http: `http:\n  listen: "127.0.0.1:${port}"`,
        extra: `mode: webhook\nwebhook:\n  public_url: http://127.0.0.1:${port}`,
      }),
    );
    const perChat = new Map<string, number>();
    let n = 0;
    const inject1 = (): void => {
      const b = BOTS[n % BOTS.length]!;
      const chat = 900 + (n % CHATS);
      perChat.set(`${b.id}:${chat}`, (perChat.get(`${b.id}:${chat}`) ?? 0) + 1);
      fake!.inject(b.token, message(chat, `w${n}`));
      n++;
    };
    const load = setInterval(() => {
      for (let i = 0; i < 4; i++) inject1();
    }, 10);
    const finals = (token: string): string[] => fake!.sent(token).map((s) => s.text.split("|")[3]!);
    try {
      for (let cycle = 0; cycle < 10; cycle++) {
        const p = new CliProcess(["start", "--config", config], { BOT_HOST_TEST_APP_DELAY: "300" });
        procs.push(p);
        await p.waitForLog(up);
        const before = BOTS.map((b) => finals(b.token).length);
        await fake.waitFor(() => BOTS.every((b, i) => finals(b.token).length > before[i]! + 5), 15_000, "answers in this cycle");
        p.kill("SIGTERM");
        expect({ cycle, code: await p.exitCode(), stderr: p.stderr }).toEqual({ cycle, code: 0, stderr: "" });
        expect(p.lines.filter((l) => (l.level ?? 0) >= 50)).toEqual([]);
      }
    } finally {
      clearInterval(load);
    }
    const last = new CliProcess(["start", "--config", config], { BOT_HOST_TEST_APP_DELAY: "300" });
    procs.push(last);
    await last.waitForLog(up);
    const total = n;
    await fake.waitFor(() => BOTS.reduce((sum, b) => sum + finals(b.token).length, 0) >= total, 30_000, "every update answered");
    last.kill("SIGTERM");
    expect(await last.exitCode()).toBe(0);

    // the scenario happened: requests came while the host could not route them yet, and were refused with 503
    const early = BOTS.flatMap((b) => fake!.deliveries(b.token).filter((d) => d.status === 503));
    expect(early.length).toBeGreaterThan(0);
    // lost 0, repeated 0: every label answered once, and every chat's session counted each update once
    const labels = BOTS.flatMap((b) => finals(b.token));
    expect(labels.length).toBe(total);
    expect(new Set(labels).size).toBe(total);
    await expectSessionCounts(redisUrl, prefix, perChat);
  }, 180_000);
});
