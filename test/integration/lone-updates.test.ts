import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { message } from "../support/updates.js";
import { monitorWhile } from "../support/monitor.js";
import { freePort, startRedisServer, type RedisServer } from "../support/redis-server.js";
import { buildYaml, fakeToken, uniquePrefix, waitUntil } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { SCRIPTS } from "../../src/storage/journal-scripts.js";
import { createKeys } from "../../src/storage/keys.js";
import { webhookSecretFor } from "../../src/config/webhook-secret.js";

// ioredis runs a defined command as EVALSHA of its script's SHA-1, or as EVAL of its text the first time on a
// connection: this names the journal script of each (MONITOR shows a newline in the text as `\n`).
const SCRIPT_BY_SHA = new Map(Object.entries(SCRIPTS).map(([name, s]) => [createHash("sha1").update(s.lua).digest("hex"), name]));
const SCRIPT_BY_TEXT = new Map(Object.entries(SCRIPTS).map(([name, s]) => [s.lua.replaceAll("\n", "\\n"), name]));
const scriptOf = (command: string | undefined, arg: string): string | undefined =>
  command === "evalsha" ? SCRIPT_BY_SHA.get(arg) : command === "eval" ? SCRIPT_BY_TEXT.get(arg) : undefined;

describe("a lone update: its journal write rides on its begin (two Redis round trips per update)", () => {
  const fx = useHost({ drainTimeoutMs: 2_000 });
  // A server of its own: MONITOR on the suite's shared server would stream the other test files' commands too.
  let server: RedisServer;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  /** Runs `work` and returns the journal scripts Redis ran meanwhile, in order, as MONITOR saw them. */
  async function scriptsRun(work: () => Promise<unknown>): Promise<string[]> {
    const seen: string[] = [];
    await monitorWhile(server.port, redis, work, (args) => {
      const name = scriptOf(args[0]?.toLowerCase(), args[1] ?? "");
      if (name !== undefined) seen.push(name);
    });
    return seen;
  }

  const journalEmpty = (prefix: string, bot: string) => async (): Promise<boolean> =>
    (await redis.hlen(createKeys(prefix).journal(bot))) === 0;

  it("polling: a lone update is journaled by its begin, and the cursor moves past it; a batch is appended first", async () => {
    const fake = await fx.startFake();
    const token = fakeToken(71);
    fake.addBot(token);
    const prefix = uniquePrefix();
    const bots = [{ id: "lone", token }];
    await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl: server.url, prefix, bots, leases: "leases:\n  enabled: false" }));
    const lone = await scriptsRun(async () => {
      for (let i = 1; i <= 3; i++) {
        fake.inject(token, message(70 + i, `lone${i}`));
        await fake.waitForSent(token, i);
        await waitUntil(journalEmpty(prefix, "lone"), "the commit");
      }
    });
    expect(lone).toEqual(["bhBegin", "bhComplete", "bhBegin", "bhComplete", "bhBegin", "bhComplete"]);
    const last = fake.sent(token).length;
    expect(fake.sent(token).map((s) => s.text.split("|").slice(2))).toEqual([
      ["1", "lone1"],
      ["1", "lone2"],
      ["1", "lone3"],
    ]);
    expect(Number(await redis.get(createKeys(prefix).watermark("lone")))).toBeGreaterThan(0);
    // Updates that wait together come as one batch: one append for the batch, then a begin and a commit each.
    const batch = await scriptsRun(async () => {
      fake.injectMany(token, [message(81, "a"), message(82, "b")]);
      await fake.waitForSent(token, last + 2);
      await waitUntil(journalEmpty(prefix, "lone"), "the commits");
    });
    expect(batch.filter((s) => s === "bhAppend")).toEqual(["bhAppend"]);
    expect(batch.filter((s) => s !== "bhAppend").sort()).toEqual(["bhBegin", "bhBegin", "bhComplete", "bhComplete"]);
  });

  it("webhook: a lone update is claimed by its begin; a redelivery after it finished begins nothing and is not run", async () => {
    const fake = await fx.startFake();
    const bot = { id: "hook", token: fakeToken(72) };
    fake.addBot(bot.token);
    const prefix = uniquePrefix();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    await fx.start(
      buildYaml({
        apiRoot: fake.apiRoot,
        redisUrl: server.url,
        prefix,
        bots: [bot],
        leases: "leases:\n  enabled: false",
        http: `http:\n  listen: "127.0.0.1:${port}"`,
        extra: `mode: webhook\nwebhook:\n  public_url: ${base}\n  path_prefix: /tg`,
      }),
    );
    const post = (body: string): Promise<Response> =>
      fetch(`${base}/tg/${bot.id}`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": webhookSecretFor(bot, undefined) },
      });
    const update = JSON.stringify({ update_id: 5_001, ...message(12, "once") });
    const first = await scriptsRun(async () => {
      expect((await post(update)).status).toBe(200);
      await waitUntil(journalEmpty(prefix, bot.id), "the commit");
    });
    expect(first).toEqual(["bhBegin", "bhComplete"]);
    const again = await scriptsRun(async () => expect((await post(update)).status).toBe(200));
    expect(again).toEqual(["bhBegin"]);
    expect(fake.sent(bot.token).map((s) => s.text.split("|").slice(2))).toEqual([["1", "once"]]);
    expect(await redis.hlen(createKeys(prefix).attempts(bot.id))).toBe(0);
  });
});
