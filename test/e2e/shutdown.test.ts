import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { Redis } from "ioredis";
import { CliProcess } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";
import { createKeys, type KeyBuilder } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");
const BOTS = [1, 2, 3].map((n) => ({ id: `b${n}`, token: fakeToken(n) }));
const up = (l: LogLine): boolean => l.msg === "all bots are up";

describe("shutdown coordinator and update journal (real CLI, real signals)", () => {
  let fake: LocalBotApi;
  let prefix: string;
  let keys: KeyBuilder;
  let config: string;
  let procs: CliProcess[] = [];
  let redis: Redis;

  beforeEach(async () => {
    fake = await LocalBotApi.start();
    for (const b of BOTS) fake.addBot(b.token);
    prefix = uniquePrefix();
    keys = createKeys(prefix);
    config = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: BOTS, extra: "shutdown:\n  drain_timeout: 5" }));
    redis = new Redis(redisUrl);
  });

  afterEach(async () => {
    for (const p of procs) p.kill("SIGKILL");
    procs = [];
    await fake.stop();
    redis.disconnect();
  });

  const start = (env: Record<string, string> = {}): CliProcess => {
    const p = new CliProcess(["start", "--config", config], env);
    procs.push(p);
    return p;
  };
  // final replies are "<bot>|<user>|<count>|<label>" ("begin|<label>" marks a handler's start)
  const answered = (label: string): number =>
    BOTS.reduce((n, b) => n + fake.sent(b.token).filter((s) => s.text.split("|").length === 4 && s.text.endsWith(`|${label}`)).length, 0);
  const totalSent = (): number => BOTS.reduce((n, b) => n + fake.sent(b.token).length, 0);

  it("drains on SIGINT and SIGTERM within the longest handler plus a margin; over 10 cycles every update is answered exactly once", async () => {
    const labels: string[] = [];
    let chat = 1000;
    for (let cycle = 0; cycle < 10; cycle++) {
      const p = start();
      await p.waitForLog(up);
      const before = totalSent();
      for (const b of BOTS) {
        for (let i = 0; i < 8; i++) {
          const label = `c${cycle}-${b.id}-m${i}`;
          labels.push(label);
          fake.inject(b.token, message(chat++, `${label} sleep=${100 + ((i * 57) % 400)}`));
        }
      }
      await fake.waitFor(() => totalSent() >= before + 3, 10_000);
      const signal = cycle % 2 === 0 ? "SIGINT" : "SIGTERM";
      const t0 = Date.now();
      p.kill(signal);
      expect(await p.exitCode()).toBe(0);
      // at most one update per chat is in flight, so the drain lasts about one handler (<= 500 ms)
      expect(Date.now() - t0).toBeLessThan(500 + 1_500);
      const steps = p.lines.filter((l) => typeof l.step === "number").map((l) => l.step);
      expect(steps).toEqual([1, 2, 3, 4, 5]);
    }
    const last = start();
    await last.waitForLog(up);
    await fake.waitFor(() => labels.every((l) => answered(l) >= 1), 20_000);
    last.kill("SIGTERM");
    expect(await last.exitCode()).toBe(0);
    const counts = labels.map((l) => answered(l));
    expect(counts.filter((c) => c !== 1)).toEqual([]);
    for (const b of BOTS) expect(fake.pendingCount(b.token)).toBe(0);
    expect(await redis.hlen(keys.journal("b1"))).toBe(0);
    // (an empty journal hash is deleted: the cursor beside it shows the name is the one the host writes)
    expect(await redis.exists(keys.watermark("b1"))).toBe(1);
  }, 120_000);

  it("closes Redis only after the last handler: the session write that ends a slow handler lands", async () => {
    const p = start();
    await p.waitForLog(up);
    fake.inject(BOTS[0]!.token, message(7, "slow1 sleep=800 begin"));
    await fake.waitForSent(BOTS[0]!.token, 1); // "begin" sent: the handler is running
    p.kill("SIGINT");
    expect(await p.exitCode()).toBe(0);
    expect(answered("slow1")).toBe(1);
    expect(JSON.parse((await redis.get(keys.session("b1", "7"))) ?? "null")).toEqual({ count: 1 });
    const order = p.lines.filter((l) => typeof l.step === "number").map((l) => [l.step, l.msg]);
    expect(order.map(([s]) => s)).toEqual([1, 2, 3, 4, 5]);
    expect(order[1]![1]).toContain("drained");
    expect(order[3]![1]).toContain("closed the HTTP server and the shared HTTP agent");
    expect(order[4]![1]).toContain("closed state");
  });

  it("a second SIGINT during a hanging drain exits 130 at once, names the cut updates, and the restart handles them", async () => {
    const p = start();
    await p.waitForLog(up);
    fake.inject(BOTS[1]!.token, message(9, "stuck hang begin"));
    await fake.waitForSent(BOTS[1]!.token, 1);
    p.kill("SIGINT");
    await p.waitForLog((l) => l.step === 1);
    const t0 = Date.now();
    p.kill("SIGINT");
    expect(await p.exitCode()).toBe(130);
    expect(Date.now() - t0).toBeLessThan(2_000);
    const cut = p.lines.find((l) => typeof l.msg === "string" && l.msg.startsWith("second SIGINT"));
    expect(cut).toMatchObject({ cut_updates: 1, cut: [{ bot: "b2", update_ids: [expect.any(Number)] }] });
    const again = start({ BOT_HOST_TEST_HANG: "0" });
    await again.waitForLog(up);
    await fake.waitFor(() => answered("stuck") === 1, 10_000);
    again.kill("SIGTERM");
    expect(await again.exitCode()).toBe(0);
    expect(JSON.parse((await redis.get(keys.session("b2", "9"))) ?? "null")).toEqual({ count: 1 });
  });

  it("the drain deadline exits 1 and reports what it cut", async () => {
    config = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: BOTS, extra: "shutdown:\n  drain_timeout: 1" }));
    const p = start();
    await p.waitForLog(up);
    fake.inject(BOTS[0]!.token, message(3, "late hang begin"));
    await fake.waitForSent(BOTS[0]!.token, 1);
    p.kill("SIGTERM");
    expect(await p.exitCode()).toBe(1);
    const report = p.lines.find(
      (l) => l.code === "BOT_HOST_DRAIN_TIMEOUT" || (typeof l.msg === "string" && l.msg.startsWith("drain did not finish")),
    );
    expect(report).toMatchObject({ cut_updates: 1 });
  });

  it("after SIGKILL under load and a restart, no update is lost and each chat's session counts every update once", async () => {
    const p = start();
    await p.waitForLog(up);
    const perChat = new Map<string, number>();
    for (let i = 0; i < 60; i++) {
      const b = BOTS[i % 3]!;
      const chat = 500 + (i % 7);
      perChat.set(`${b.id}:${chat}`, (perChat.get(`${b.id}:${chat}`) ?? 0) + 1);
      fake.inject(b.token, message(chat, `k${i} sleep=${30 + (i % 5) * 20}`));
    }
    await fake.waitFor(() => totalSent() >= 15, 10_000);
    p.kill("SIGKILL");
    await p.exitCode();
    const again = start();
    await again.waitForLog(up);
    const labels = Array.from({ length: 60 }, (_, i) => `k${i}`);
    await fake.waitFor(() => labels.every((l) => answered(l) >= 1), 20_000);
    again.kill("SIGTERM");
    expect(await again.exitCode()).toBe(0);
    await expectSessionCounts(redis, prefix, perChat);
  }, 60_000);

  it("shuts down cleanly with zero bots, and while a bot is still retrying its start", async () => {
    config = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: [] }));
    const idle = start();
    await idle.waitForLog((l) => typeof l.msg === "string" && l.msg.includes("no enabled bots"));
    idle.kill("SIGINT");
    expect(await idle.exitCode()).toBe(0);

    // a Bot API that never answers getMe: the start is in progress when the signal comes
    config = writeConfig(buildYaml({ apiRoot: "http://127.0.0.1:9", redisUrl, prefix: uniquePrefix(), bots: [BOTS[0]!] }));
    const starting = new CliProcess(["start", "--config", config, "--log-level", "debug"]);
    procs.push(starting);
    await starting.waitForLog((l) => l.bot === BOTS[0]!.id && typeof l.msg === "string" && l.msg.startsWith("starting"));
    starting.kill("SIGTERM");
    expect(await starting.exitCode()).toBe(0);
  });
});
