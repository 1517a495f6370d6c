import { afterEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { CliProcess } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { buildYaml, fakeToken, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";
import { createKeys } from "../../src/storage/keys.js";

const BOT = { id: "sf", token: fakeToken(95) };

describe("a shutdown step that fails (real CLI, real signals)", () => {
  let fake: LocalBotApi | undefined;
  let redis: RedisServer | undefined;
  const procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs) p.kill("SIGKILL");
    procs.length = 0;
    if (redis !== undefined) process.kill(redis.pid, "SIGCONT");
    await redis?.stop();
    await fake?.stop();
  });

  it("a Redis that does not answer QUIT: step 5 is logged as failed, the steps before it as done, and the exit code is 1", async () => {
    fake = await LocalBotApi.start();
    fake.addBot(BOT.token);
    redis = await startRedisServer();
    const prefix = uniquePrefix();
    // with the outgoing throttle on, its window in Redis has a connection of its own, which must not hang either
    const limits = "limits:\n  outgoing: { enabled: true }";
    const config = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl: redis.url, prefix, bots: [BOT], limits }));
    const p = new CliProcess(["start", "--config", config]);
    procs.push(p);
    await p.waitForLog((l: LogLine) => l.msg === "all bots are up");
    fake.inject(BOT.token, message(1, "before"));
    await fake.waitForSent(BOT.token, 1);
    // the update's session and journal write landed: nothing is in flight when Redis stops answering
    const check = new Redis(redis.url);
    while ((await check.get(createKeys(prefix).session(BOT.id, "1"))) === null) await new Promise((r) => setTimeout(r, 10));
    check.disconnect();
    process.kill(redis.pid, "SIGSTOP");
    p.kill("SIGTERM");
    expect(await p.exitCode()).toBe(1);
    const steps = p.lines.filter((l) => typeof l.step === "number");
    expect(steps.map((l) => [l.step, l.level, l.msg])).toEqual([
      [1, 30, "shutdown step 1/5: stopped intake"],
      [2, 30, "shutdown step 2/5: drained"],
      [3, 30, "shutdown step 3/5: confirmed offsets"],
      [4, 30, "shutdown step 4/5: closed the HTTP server and the shared HTTP agent"],
      [5, 50, "shutdown step 5/5 failed: close state"],
    ]);
    expect(steps[4]).toMatchObject({ failed: true, err: { code: "BOT_HOST_REDIS_CLOSE_FAILED" } });
    expect(p.lines.at(-1)).toMatchObject({ level: 50, msg: expect.stringContaining("shutdown step(s) failed: 5/5 close state") });
    expect(p.lines.some((l) => l.msg === "shutdown complete")).toBe(false);
  });
});
