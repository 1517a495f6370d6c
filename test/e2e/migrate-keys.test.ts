import { afterEach, describe, expect, inject, it } from "vitest";
import { Redis } from "ioredis";
import { CliProcess, runCli } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { buildYaml, fakeToken, uniquePrefix, writeConfig } from "../support/harness.js";
import { createKeys, legacyKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");

describe("keys of an earlier version (before hash tags)", () => {
  let fake: LocalBotApi;
  let redis: Redis;
  let procs: CliProcess[] = [];
  afterEach(async () => {
    for (const p of procs) p.kill("SIGKILL");
    procs = [];
    await fake?.stop();
    redis?.disconnect();
  });

  it("start refuses them naming the command; migrate-keys moves them; the next start resumes the journal and the session", async () => {
    fake = await LocalBotApi.start();
    const bot = { id: "old1", token: fakeToken(690) };
    fake.addBot(bot.token);
    redis = new Redis(redisUrl);
    const prefix = uniquePrefix();
    const config = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: [bot] }));
    const keys = createKeys(prefix);
    const single = legacyKeys(prefix, bot.id).single;
    const oldName = (newKey: string): string => {
      const pair = single.find(([, now]) => now === newKey);
      if (pair === undefined) throw new Error(`legacyKeys has no old name for ${newKey}`);
      return pair[0];
    };
    const oldJournal = oldName(keys.journal(bot.id));
    const oldWatermark = oldName(keys.watermark(bot.id));
    // what an earlier version left: a journaled update not yet handled, its cursor, a session, plugin state
    const journaled = { update_id: 41, ...message(5, "left over") };
    await redis.hset(oldJournal, "41", JSON.stringify(journaled));
    await redis.set(oldWatermark, "41");
    // the pre-hash-tag names of a session and of plugin state (legacyKeys has only SCAN patterns for these)
    await redis.set(`${prefix}session:old1:5`, JSON.stringify({ count: 7 }));
    await redis.set(`${prefix}plugin:conversations:old1:5`, JSON.stringify({ v: 1 }));

    const refused = await runCli(["start", "--config", config]);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain("bot-host migrate-keys --config");
    expect(fake.calls(bot.token)).toEqual([]);

    const dry = await runCli(["migrate-keys", "--config", config, "--dry-run"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/would move 4 key\(s\) of 1 bot\(s\)/);
    expect(await redis.exists(oldJournal)).toBe(1);

    const moved = await runCli(["migrate-keys", "--config", config]);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/moved 4 key\(s\)/);
    expect((await redis.keys(`${prefix}*`)).sort()).toEqual(
      [keys.journal(bot.id), keys.watermark(bot.id), keys.plugin("conversations", bot.id, "5"), keys.session(bot.id, "5")].sort(),
    );
    expect((await runCli(["migrate-keys", "--config", config])).stdout).toMatch(/moved 0 key\(s\)/);

    const p = new CliProcess(["start", "--config", config]);
    procs.push(p);
    await p.waitForLog((l) => l.msg === "all bots are up");
    await fake.waitFor(() => fake.sent(bot.token).length === 1);
    // the counter app: the journaled update is handled from the old session (count 7 -> 8)
    expect(fake.sent(bot.token)[0]!.text).toMatch(/^old1\|[^|]+\|8\|left$/);
    p.kill("SIGTERM");
    expect(await p.exitCode()).toBe(0);
  });
});
