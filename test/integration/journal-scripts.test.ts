import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { uniquePrefix } from "../support/harness.js";
import { monitorWhile } from "../support/monitor.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { defineScripts, SCRIPTS, type ScriptArg, type ScriptedRedis } from "../../src/storage/journal-scripts.js";
import { createKeys, type KeyBuilder } from "../../src/storage/keys.js";

const BOT = "scripts";
/** A lease value as the lease store writes it: `<instanceId>/<fence>`. */
const TOKEN = "host-a-4242-0a1b2c/7";

describe("the journal's Lua scripts, run directly on Redis", () => {
  let redis: ScriptedRedis;
  let prefix: string;
  let keys: KeyBuilder;

  // A server of its own: MONITOR (see scriptCommands) on the suite's shared server would also stream the other
  // test files' commands.
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
    redis = defineScripts(new Redis(server.url));
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });
  beforeEach(() => {
    prefix = uniquePrefix();
    keys = createKeys(prefix);
  });

  // Each script with its arguments in the order SCRIPTS documents (the keys first).
  /** KEYS: journal, watermark, lease, fence counter. ARGV: watermark TTL (s), last update id, fence token, then id/JSON pairs. */
  const append = async (entries: ReadonlyArray<readonly [number, string]>, o: { ttlS?: number; fence?: string } = {}): Promise<number> =>
    Number(
      await redis.bhAppend(
        keys.journal(BOT),
        keys.watermark(BOT),
        keys.lease(BOT),
        keys.fence(BOT),
        o.ttlS ?? 60,
        entries.at(-1)![0],
        o.fence ?? "",
        ...entries.flat(),
      ),
    );
  /** KEYS: done set, journal, lease, fence counter. ARGV: update id, update JSON, fence token. */
  const claim = async (id: number, json: string, fence = ""): Promise<number> =>
    Number(await redis.bhClaim(keys.done(BOT), keys.journal(BOT), keys.lease(BOT), keys.fence(BOT), id, json, fence));
  /**
   * The key count, then KEYS: journal, done set, lease, fence counter, attempts, the state keys. ARGV: update id, state TTL (ms, 0: none),
   * remember ('1'), how many ids the done set keeps, fence token, then one value per state key ('' deletes it).
   */
  const complete = async (
    id: number,
    writes: ReadonlyArray<readonly [key: string, value: string]>,
    o: { ttlMs?: number; remember?: boolean; keep?: number; fence?: string } = {},
  ): Promise<number> => {
    const scriptKeys = [keys.journal(BOT), keys.done(BOT), keys.lease(BOT), keys.fence(BOT), keys.attempts(BOT), ...writes.map(([k]) => k)];
    const args: ScriptArg[] = [id, o.ttlMs ?? 0, o.remember === true ? 1 : 0, o.keep ?? 100, o.fence ?? "", ...writes.map(([, v]) => v)];
    return Number(await redis.bhComplete(scriptKeys.length, ...scriptKeys, ...args));
  };
  /**
   * The key count, then KEYS: journal, attempts, dead letters, lease, fence counter, audience, and optionally a state key to
   * read. ARGV: update id, max attempts, fence token, now (ms), the error to record when none is known, a chat to record
   * in the audience ('' = none).
   */
  const begin = (
    id: number,
    o: { max?: number; read?: string; fence?: string; now?: number; audience?: string; record?: { as: "a" | "c"; json: string } } = {},
  ): Promise<unknown> => {
    const scriptKeys = [
      keys.journal(BOT),
      keys.attempts(BOT),
      keys.deadLetters(BOT),
      keys.lease(BOT),
      keys.fence(BOT),
      keys.audience(BOT),
      ...(o.record === undefined ? [] : [o.record.as === "a" ? keys.watermark(BOT) : keys.done(BOT)]),
      ...(o.read === undefined ? [] : [o.read]),
    ];
    const args: ScriptArg[] = [id, o.max ?? 3, o.fence ?? "", o.now ?? 1_000, "none known", o.audience ?? ""];
    if (o.record !== undefined) args.push(o.record.as, o.record.json, 60);
    return redis.bhBegin(scriptKeys.length, ...scriptKeys, ...args);
  };
  /** KEYS: journal, attempts, dead letters, lease, fence counter. ARGV: update id, reason, error, now (ms), fence token. */
  const park = (id: number, o: { fence?: string } = {}): Promise<unknown> =>
    redis.bhPark(
      keys.journal(BOT),
      keys.attempts(BOT),
      keys.deadLetters(BOT),
      keys.lease(BOT),
      keys.fence(BOT),
      id,
      "timeout",
      "too slow",
      2_000,
      o.fence ?? "",
    );
  const update = (id: number, text = `u${id}`): string => JSON.stringify({ update_id: id, message: { text } });

  /** Runs `work` and returns the commands the scripts sent for keys under this test's prefix, as MONITOR saw them. */
  async function scriptCommands(work: () => Promise<unknown>): Promise<string[][]> {
    const seen: string[][] = [];
    await monitorWhile(server.port, redis, work, (args, source) => {
      if (source === "lua" && args.slice(1).some((a) => a.startsWith(prefix))) seen.push([args[0]!.toLowerCase(), ...args.slice(1)]);
    });
    return seen;
  }

  it("covers every script in SCRIPTS; only bhComplete and bhBegin take a variable key count", () => {
    expect(Object.keys(SCRIPTS).sort()).toEqual(["bhAppend", "bhBegin", "bhClaim", "bhComplete", "bhPark", "bhRetry"]);
    expect(SCRIPTS.bhAppend.keys).toBe(4);
    expect(SCRIPTS.bhClaim.keys).toBe(4);
    expect(SCRIPTS.bhPark.keys).toBe(5);
    expect(SCRIPTS.bhRetry.keys).toBe(3);
    expect("keys" in SCRIPTS.bhComplete).toBe(false);
    expect("keys" in SCRIPTS.bhBegin).toBe(false);
    expect(defineScripts(redis)).toBe(redis); // defining them again on the same client is a no-op
  });

  describe("bhAppend", () => {
    it("writes every id/JSON pair in one HSET and sets the watermark to the last id with its TTL", async () => {
      const entries = [
        [5, update(5)],
        [6, update(6)],
        [9, update(9)],
      ] as const;
      let result: number | undefined;
      const commands = await scriptCommands(async () => {
        result = await append(entries, { ttlS: 120 });
      });
      expect(result).toBe(1);
      // one HSET with all the pairs, then the SET of the watermark; no GET of the lease without a fence token
      expect(commands).toEqual([
        ["hset", keys.journal(BOT), "5", update(5), "6", update(6), "9", update(9)],
        ["set", keys.watermark(BOT), "9", "EX", "120"],
      ]);
      expect(await redis.hgetall(keys.journal(BOT))).toEqual({ "5": update(5), "6": update(6), "9": update(9) });
      expect(await redis.get(keys.watermark(BOT))).toBe("9");
      const ttl = await redis.pttl(keys.watermark(BOT));
      expect(ttl).toBeGreaterThan(115_000);
      expect(ttl).toBeLessThanOrEqual(120_000);
    });

    it("adds to the journal already there and moves the watermark on", async () => {
      await append([[1, update(1)]]);
      await append(
        [
          [2, update(2)],
          [3, update(3)],
        ],
        { ttlS: 30 },
      );
      expect(await redis.hkeys(keys.journal(BOT))).toEqual(["1", "2", "3"]);
      expect(await redis.get(keys.watermark(BOT))).toBe("3");
      const ttl = await redis.pttl(keys.watermark(BOT));
      expect(ttl).toBeGreaterThan(25_000);
      expect(ttl).toBeLessThanOrEqual(30_000);
    });
  });

  describe("bhClaim", () => {
    it("returns 1 once and then 0 for an update in the journal, keeping the first JSON", async () => {
      expect(await claim(10, update(10))).toBe(1);
      expect(await redis.hget(keys.journal(BOT), "10")).toBe(update(10));
      expect(await claim(10, update(10, "again"))).toBe(0);
      expect(await claim(10, update(10))).toBe(0);
      expect(await redis.hgetall(keys.journal(BOT))).toEqual({ "10": update(10) });
    });

    it("returns 0 for an update in the done set, and does not journal it", async () => {
      await redis.zadd(keys.done(BOT), 11, "11");
      expect(await claim(11, update(11))).toBe(0);
      expect(await redis.exists(keys.journal(BOT))).toBe(0);
      // another id is claimed as usual
      expect(await claim(12, update(12))).toBe(1);
      expect(await redis.hkeys(keys.journal(BOT))).toEqual(["12"]);
    });
  });

  describe("bhComplete", () => {
    it("sets each state key (without a TTL when it is 0), deletes one whose value is '', and removes the journal entry", async () => {
      await redis.hset(keys.journal(BOT), "20", update(20), "21", update(21));
      const session = keys.session(BOT, "7");
      const plugin = keys.plugin("conversations", BOT, "7");
      const gone = keys.plugin("i18n", BOT, "7");
      await redis.set(session, '{"n":0}', "PX", 60_000); // overwritten: a commit without TTL leaves none
      await redis.set(gone, '{"locale":"de"}');
      expect(
        await complete(20, [
          [session, '{"n":1}'],
          [plugin, '{"step":2}'],
          [gone, ""],
        ]),
      ).toBe(1);
      expect(await redis.get(session)).toBe('{"n":1}');
      expect(await redis.get(plugin)).toBe('{"step":2}');
      expect(await redis.pttl(session)).toBe(-1);
      expect(await redis.pttl(plugin)).toBe(-1);
      expect(await redis.exists(gone)).toBe(0);
      // only its own entry leaves the journal; without remember the done set is untouched
      expect(await redis.hgetall(keys.journal(BOT))).toEqual({ "21": update(21) });
      expect(await redis.exists(keys.done(BOT))).toBe(0);
    });

    it("sets each state key with PX when given a TTL", async () => {
      await redis.hset(keys.journal(BOT), "22", update(22));
      const a = keys.session(BOT, "1");
      const b = keys.session(BOT, "2");
      expect(
        await complete(
          22,
          [
            [a, '{"n":1}'],
            [b, '{"n":2}'],
          ],
          { ttlMs: 50_000 },
        ),
      ).toBe(1);
      for (const key of [a, b]) {
        const ttl = await redis.pttl(key);
        expect(ttl, key).toBeGreaterThan(45_000);
        expect(ttl, key).toBeLessThanOrEqual(50_000);
      }
      expect(await redis.mget(a, b)).toEqual(['{"n":1}', '{"n":2}']);
      expect(await redis.hexists(keys.journal(BOT), "22")).toBe(0);
    });

    it("removes the journal entry last: when a state write fails, the entry stays and nothing else was written", async () => {
      await redis.hset(keys.journal(BOT), "23", update(23));
      const a = keys.session(BOT, "3");
      const b = keys.plugin("conversations", BOT, "3");
      // a negative TTL makes the first SET ... PX fail, which stops the script there
      await expect(
        complete(
          23,
          [
            [a, '{"n":1}'],
            [b, '{"step":1}'],
          ],
          { ttlMs: -5, remember: true },
        ),
      ).rejects.toThrow(/invalid expire time/);
      expect(await redis.hget(keys.journal(BOT), "23")).toBe(update(23));
      expect(await redis.exists(a, b)).toBe(0);
      expect(await redis.exists(keys.done(BOT))).toBe(0);
      // the same commit with a valid TTL goes through
      expect(
        await complete(
          23,
          [
            [a, '{"n":1}'],
            [b, '{"step":1}'],
          ],
          { ttlMs: 10_000, remember: true },
        ),
      ).toBe(1);
      expect(await redis.exists(keys.journal(BOT))).toBe(0);
      expect(await redis.exists(a, b)).toBe(2);
    });

    it("with remember adds the id to the done set (scored by the id) and trims the set to the given size", async () => {
      for (const id of [31, 32, 33, 34, 35]) {
        await redis.hset(keys.journal(BOT), String(id), update(id));
        expect(await complete(id, [], { remember: true, keep: 3 })).toBe(1);
      }
      expect(await redis.zrange(keys.done(BOT), 0, -1, "WITHSCORES")).toEqual(["33", "33", "34", "34", "35", "35"]);
      expect(await redis.exists(keys.journal(BOT))).toBe(0);
      // a lower id finished late is trimmed at once: the set keeps the highest ids
      expect(await complete(30, [], { remember: true, keep: 3 })).toBe(1);
      expect(await redis.zrange(keys.done(BOT), 0, -1)).toEqual(["33", "34", "35"]);
      // without remember nothing is added
      expect(await complete(36, [], { keep: 3 })).toBe(1);
      expect(await redis.zrange(keys.done(BOT), 0, -1)).toEqual(["33", "34", "35"]);
    });

    it("makes a finished webhook update unclaimable: claim, complete with remember, claim again", async () => {
      expect(await claim(40, update(40))).toBe(1);
      expect(await complete(40, [[keys.session(BOT, "4"), '{"n":1}']], { remember: true, keep: 10 })).toBe(1);
      expect(await redis.exists(keys.journal(BOT))).toBe(0);
      expect(await claim(40, update(40))).toBe(0);
      expect(await redis.exists(keys.journal(BOT))).toBe(0);
    });
  });

  describe("bhBegin, bhPark and bhRetry: attempts and dead letters", () => {
    it("counts each start and reads the state key in the same call", async () => {
      await redis.hset(keys.journal(BOT), "60", update(60));
      await redis.set(keys.session(BOT, "6"), '{"n":5}');
      expect(await begin(60, { read: keys.session(BOT, "6") })).toEqual([1, 1, '{"n":5}', 0]);
      expect(await begin(60)).toEqual([1, 2, null, 0]);
      expect(await redis.hget(keys.attempts(BOT), "60")).toBe("2");
    });

    it("records a lone polled update first ('a'): journal entry and cursor, then the start and the state read", async () => {
      await redis.set(keys.session(BOT, "7"), '{"n":1}');
      const json = update(70);
      expect(await begin(70, { read: keys.session(BOT, "7"), record: { as: "a", json } })).toEqual([1, 1, '{"n":1}', 0]);
      expect(await redis.hgetall(keys.journal(BOT))).toEqual({ "70": json });
      expect(await redis.get(keys.watermark(BOT))).toBe("70");
      expect(await redis.ttl(keys.watermark(BOT))).toBeGreaterThan(0);
      expect(await redis.hget(keys.attempts(BOT), "70")).toBe("1");
    });

    it("records a lone webhook update first ('c'), and answers {2} with nothing written for a redelivery", async () => {
      const json = update(71);
      expect(await begin(71, { record: { as: "c", json } })).toEqual([1, 1, null, 0]);
      expect(await redis.hget(keys.journal(BOT), "71")).toBe(json);
      // in flight (journaled): a redelivery begins nothing
      expect(await begin(71, { record: { as: "c", json } })).toEqual([2]);
      expect(await redis.hget(keys.attempts(BOT), "71")).toBe("1");
      // finished and remembered: likewise
      await complete(71, [], { remember: true });
      expect(await begin(71, { record: { as: "c", json } })).toEqual([2]);
      expect(await redis.hlen(keys.journal(BOT))).toBe(0);
      expect(await redis.hlen(keys.attempts(BOT))).toBe(0);
    });

    it("records nothing when the fence refuses the begin", async () => {
      await redis.set(keys.lease(BOT), "host-b-1-ffffff/8");
      await redis.set(keys.fence(BOT), "8");
      await expect(begin(72, { fence: TOKEN, record: { as: "a", json: update(72) } })).rejects.toThrow(/BOTHOST_FENCED/);
      await expect(begin(73, { fence: TOKEN, record: { as: "c", json: update(73) } })).rejects.toThrow(/BOTHOST_FENCED/);
      expect(await redis.exists(keys.journal(BOT), keys.watermark(BOT), keys.attempts(BOT))).toBe(0);
    });

    it("records a private chat in the audience with the start (1 when it joined now), and nothing for ''", async () => {
      await redis.hset(keys.journal(BOT), "68", update(68), "69", update(69));
      expect(await begin(68, { audience: "42", now: 5_000 })).toEqual([1, 1, null, 1]);
      expect(await begin(69, { audience: "42", now: 6_000 })).toEqual([1, 1, null, 0]);
      expect(await redis.zrange(keys.audience(BOT), 0, -1, "WITHSCORES")).toEqual(["42", "6000"]);
      await begin(68);
      expect(await redis.zcard(keys.audience(BOT))).toBe(1);
    });

    it("after max attempts, moves the update to the dead letters with the last error known, and out of the journal", async () => {
      const json = update(61, "boom");
      await redis.hset(keys.journal(BOT), "61", json, "62", update(62));
      for (let i = 1; i <= 2; i++) expect(await begin(61, { max: 2 })).toEqual([1, i, null, 0]);
      await redis.hset(keys.attempts(BOT), "e:61", "uncaught exception: Error: boom");
      const [run, record, stored] = (await begin(61, { max: 2, now: 1_234 })) as [number, string, string];
      expect(run).toBe(0);
      expect(JSON.parse(record)).toEqual({ attempts: 2, reason: "crashed", error: "uncaught exception: Error: boom", at: 1_234 });
      expect(stored).toBe(json); // the update exactly as journaled, not re-encoded
      expect(await redis.hkeys(keys.journal(BOT))).toEqual(["62"]);
      expect(await redis.hgetall(keys.attempts(BOT))).toEqual({});
      expect(await redis.hgetall(keys.deadLetters(BOT))).toEqual({ "61": record, "u:61": json });
    });

    it("records that no error is known when none was noted", async () => {
      await redis.hset(keys.journal(BOT), "63", update(63));
      await redis.hset(keys.attempts(BOT), "63", "3");
      const [, record] = (await begin(63)) as [number, string];
      expect(JSON.parse(record)).toMatchObject({ attempts: 3, error: "none known" });
    });

    it("a commit clears the update's attempts and its error", async () => {
      await redis.hset(keys.journal(BOT), "64", update(64));
      await begin(64);
      await redis.hset(keys.attempts(BOT), "e:64", "x", "65", "1");
      expect(await complete(64, [])).toBe(1);
      expect(await redis.hgetall(keys.attempts(BOT))).toEqual({ "65": "1" });
    });

    it("bhPark sets an unfinished update aside with its attempts, and answers nil when it is not journaled", async () => {
      await redis.hset(keys.journal(BOT), "66", update(66));
      await begin(66);
      const [record, stored] = (await park(66)) as [string, string];
      expect(JSON.parse(record)).toEqual({ attempts: 1, reason: "timeout", error: "too slow", at: 2_000 });
      expect(stored).toBe(update(66));
      expect(await redis.exists(keys.journal(BOT), keys.attempts(BOT))).toBe(0);
      expect(await park(66)).toBeNull();
    });

    it("bhRetry puts a dead letter back into the journal with the attempts given, and answers 0 for an unknown one", async () => {
      await redis.hset(keys.journal(BOT), "67", update(67));
      await park(67);
      expect(await redis.bhRetry(keys.deadLetters(BOT), keys.journal(BOT), keys.attempts(BOT), 67, 2)).toBe(1);
      expect(await redis.hget(keys.journal(BOT), "67")).toBe(update(67));
      expect(await redis.hget(keys.attempts(BOT), "67")).toBe("2");
      expect(await redis.exists(keys.deadLetters(BOT))).toBe(0);
      // one attempt left: the next start runs it, the one after sets it aside again
      expect(await begin(67)).toEqual([1, 3, null, 0]);
      expect(((await begin(67)) as [number])[0]).toBe(0);
      expect(await redis.bhRetry(keys.deadLetters(BOT), keys.journal(BOT), keys.attempts(BOT), 99, 2)).toBe(0);
    });
  });

  describe("the fence", () => {
    const state = (): string => keys.session(BOT, "9");
    // each script run with `fence`, and whether it changed anything (seeded: a journal entry bhComplete would drop)
    const scripts: Array<{ name: keyof typeof SCRIPTS; run: (fence: string) => Promise<number>; wrote: () => Promise<boolean> }> = [
      {
        name: "bhAppend",
        run: (fence) => append([[50, update(50)]], { fence }),
        wrote: async () => (await redis.hexists(keys.journal(BOT), "50")) === 1 || (await redis.exists(keys.watermark(BOT))) === 1,
      },
      {
        name: "bhClaim",
        run: (fence) => claim(50, update(50), fence),
        wrote: async () => (await redis.hexists(keys.journal(BOT), "50")) === 1,
      },
      {
        name: "bhComplete",
        run: (fence) => complete(49, [[state(), '{"n":1}']], { remember: true, keep: 10, fence }),
        wrote: async () => (await redis.hexists(keys.journal(BOT), "49")) === 0 || (await redis.exists(state(), keys.done(BOT))) > 0,
      },
      {
        name: "bhBegin",
        run: async (fence) => ((await begin(49, { fence })) as [number])[0],
        wrote: async () => (await redis.exists(keys.attempts(BOT))) === 1,
      },
      {
        name: "bhPark",
        run: async (fence) => ((await park(49, { fence })) === null ? 0 : 1),
        wrote: async () => (await redis.exists(keys.deadLetters(BOT))) === 1,
      },
    ];
    beforeEach(async () => {
      await redis.hset(keys.journal(BOT), "49", update(49));
    });

    it.each(scripts)("$name refuses a token that is not exactly the lease's value, and writes nothing", async ({ run, wrote }) => {
      // no lease (it expired), another instance's, a later fence of this instance (the token is a prefix of it), a
      // prefix of the token
      for (const lease of [undefined, "host-b-1-ffffff/8", "host-a-4242-0a1b2c/70", "host-a-4242-0a1b2c/"]) {
        if (lease === undefined) await redis.del(keys.lease(BOT));
        else await redis.set(keys.lease(BOT), lease);
        await expect(run(TOKEN), String(lease)).rejects.toThrow(/^BOTHOST_FENCED/);
        expect(await wrote(), String(lease)).toBe(false);
      }
    });

    it.each(scripts)(
      "$name runs when the lease expired and nobody acquired the bot since (the fence counter ends the token)",
      async ({ run, wrote }) => {
        await redis.del(keys.lease(BOT));
        await redis.set(keys.fence(BOT), "70"); // another acquisition since: refused
        await expect(run(TOKEN)).rejects.toThrow(/^BOTHOST_FENCED/);
        expect(await wrote()).toBe(false);
        await redis.set(keys.fence(BOT), "7");
        expect(await run(TOKEN)).toBe(1);
        expect(await wrote()).toBe(true);
        expect(await redis.exists(keys.lease(BOT))).toBe(0); // a write does not take the lease back: a renewal does
      },
    );

    it.each(scripts)("$name runs when the lease holds exactly the token", async ({ run, wrote }) => {
      await redis.set(keys.lease(BOT), TOKEN);
      expect(await run(TOKEN)).toBe(1);
      expect(await wrote()).toBe(true);
      expect(await redis.get(keys.lease(BOT))).toBe(TOKEN); // the check only reads the lease
    });

    it.each(scripts)("$name skips the check with an empty token, whoever holds the lease", async ({ run, wrote }) => {
      await redis.set(keys.lease(BOT), "host-b-1-ffffff/8");
      expect(await run("")).toBe(1);
      expect(await wrote()).toBe(true);
    });

    it.each(scripts)("$name skips the check with an empty token when there is no lease", async ({ run, wrote }) => {
      expect(await run("")).toBe(1);
      expect(await wrote()).toBe(true);
      expect(await redis.exists(keys.lease(BOT))).toBe(0);
    });
  });
});
