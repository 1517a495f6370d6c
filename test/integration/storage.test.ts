import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import type { Update } from "grammy/types";
import { createStorage, type Storage } from "../../src/storage/storage.js";
import type { RedisSettings } from "../../src/config/settings.js";
import { memoryLogger, uniquePrefix } from "../support/harness.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";

// A server of its own: the MONITOR test counts every command the server runs, which on the suite's shared server
// would include the other test files' (and ioredis fails on a monitor line that arrives before MONITOR's answer).
let server: RedisServer;
let redisUrl: string;
beforeAll(async () => {
  server = await startRedisServer();
  redisUrl = server.url;
});
afterAll(async () => {
  await server.stop();
});

/** The Redis settings of a single server at `url`. */
function redisAt(url: string, o: Partial<RedisSettings> = {}): RedisSettings {
  return {
    target: { kind: "server", url },
    username: undefined,
    password: undefined,
    tls: false,
    displayUrl: url,
    minReplicas: 0,
    stateTtlMs: 0,
    ...o,
  };
}

/** Storage on the Redis at `url` (or in memory without one), not started. */
function storageAt(
  url: string | undefined,
  keyPrefix: string,
  o: { stateTtlMs?: number; connectTimeoutMs?: number; logger?: ReturnType<typeof memoryLogger>["logger"] } = {},
): Storage {
  const redis = url === undefined ? undefined : redisAt(url, o.stateTtlMs === undefined ? {} : { stateTtlMs: o.stateTtlMs });
  return createStorage({
    redis,
    keyPrefix,
    botIds: [],
    logger: o.logger ?? memoryLogger().logger,
    ...(o.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: o.connectTimeoutMs }),
  });
}
const upd = (id: number, chat = 1): Update =>
  ({ update_id: id, message: { message_id: id, date: 0, chat: { id: chat, type: "private", first_name: "x" }, text: `m${id}` } }) as Update;

describe.each(["redis", "memory"] as const)("%s storage", (kind) => {
  let store: Storage;
  let prefix: string;
  let redis: Redis;

  beforeEach(async () => {
    prefix = uniquePrefix();
    redis = new Redis(redisUrl);
    store = storageAt(kind === "redis" ? redisUrl : undefined, prefix);
    await store.start();
  });

  afterEach(async () => {
    await store.stop();
    redis.disconnect();
  });

  it("journals a batch, moves the cursor past it, and replays unfinished updates in order", async () => {
    expect(await store.journal.load("a")).toEqual({ pending: [], watermark: undefined });
    await store.journal.append(
      "a",
      [upd(12), upd(10), upd(11)].sort((x, y) => x.update_id - y.update_id),
    );
    await store.journal.complete("a", 11, [{ key: `${prefix}session:{a}:1`, value: '{"n":1}' }]);
    const j = await store.journal.load("a");
    expect(j.pending.map((u) => u.update_id)).toEqual([10, 12]);
    expect(j.watermark).toBe(12);
    expect(await store.state.read(`${prefix}session:{a}:1`)).toBe('{"n":1}');
    expect((await store.journal.load("b")).pending).toEqual([]);
  });

  it.runIf(kind === "redis")("keeps the journal entry when the session write fails", async () => {
    await store.journal.append("a", [upd(7)]);
    await redis.set(`${prefix}session:{a}:7`, "x");
    // A session TTL Redis refuses makes the session SET fail inside the commit.
    const broken = storageAt(redisUrl, prefix, { stateTtlMs: -5_000 });
    await broken.start();
    const writes = [
      { key: `${prefix}session:{a}:7`, value: '{"n":1}' },
      { key: `${prefix}plugin:conversations:{a}:7`, value: '{"step":2}' },
    ];
    await expect(broken.journal.complete("a", 7, writes)).rejects.toThrow(/expire/i);
    await broken.stop();
    expect((await store.journal.load("a")).pending.map((u) => u.update_id)).toEqual([7]);
    expect(await redis.get(`${prefix}session:{a}:7`)).toBe("x");
    expect(await redis.exists(`${prefix}plugin:conversations:{a}:7`)).toBe(0);
  });

  it("deletes a session when the write is null", async () => {
    await store.journal.append("a", [upd(1)]);
    await store.journal.complete("a", 1, [{ key: `${prefix}session:{a}:1`, value: '{"n":1}' }]);
    await store.journal.append("a", [upd(2)]);
    await store.journal.complete("a", 2, [{ key: `${prefix}session:{a}:1`, value: null }]);
    expect(await store.state.read(`${prefix}session:{a}:1`)).toBeUndefined();
  });

  it("commits an update's writes to several keys together with its journal removal", async () => {
    await store.journal.append("a", [upd(3), upd(4)]);
    const keys = [`${prefix}session:{a}:5`, `${prefix}plugin:conversations:{a}:5`, `${prefix}plugin:i18n:{a}:5`];
    await store.journal.complete(
      "a",
      3,
      keys.map((key, i) => ({ key, value: `{"v":${i}}` })),
    );
    expect(await Promise.all(keys.map((k) => store.state.read(k)))).toEqual(['{"v":0}', '{"v":1}', '{"v":2}']);
    await store.journal.complete("a", 4, [
      { key: keys[1]!, value: null },
      { key: keys[2]!, value: '{"v":9}' },
    ]);
    expect(await Promise.all(keys.map((k) => store.state.read(k)))).toEqual(['{"v":0}', undefined, '{"v":9}']);
    expect((await store.journal.load("a")).pending).toEqual([]);
  });

  it("caches bot info", async () => {
    const info = { id: 1, is_bot: true, first_name: "B", username: "b_bot" } as never;
    await store.botInfo.set("1", { tokenHash: "h", info });
    expect(await store.botInfo.get("1")).toEqual({ tokenHash: "h", info });
    expect(await store.botInfo.get("2")).toBeUndefined();
  });

  it.runIf(kind === "redis")("writes a batch once (one script call) under the documented keys, and stop() is idempotent", async () => {
    const monitor = await redis.monitor();
    const commands: string[] = [];
    monitor.on("monitor", (_t: string, args: string[]) => commands.push(args[0]!.toLowerCase()));
    await store.journal.append("a", [upd(1), upd(2), upd(3)]);
    // MONITOR streams on its own connection: wait until the script call has come through it
    await redis.set(`${prefix}marker`, "1");
    while (!commands.includes("set")) await new Promise((r) => setTimeout(r, 5));
    monitor.disconnect();
    expect(commands.filter((c) => c === "hset")).toHaveLength(1);
    expect(commands.filter((c) => c === "evalsha" || c === "eval")).toHaveLength(1);
    expect(commands).not.toContain("multi");
    expect(await redis.hlen(`${prefix}journal:{a}`)).toBe(3);
    expect(await redis.get(`${prefix}offset:{a}`)).toBe("3");
    expect(await redis.ttl(`${prefix}offset:{a}`)).toBeGreaterThan(0);
    await Promise.all([store.stop(), store.stop()]);
  });
});

describe("storage start", () => {
  it("names the URL (without its password) when Redis is unreachable", async () => {
    const { parseConfig } = await import("../../src/config/index.js");
    const { resolveSettings } = await import("../../src/config/settings.js");
    const config = parseConfig('app: x.js\nredis:\n  url: "redis://user:s3cret@127.0.0.1:9/0"\n  key_prefix: "x:"\nbots: []\n', {
      file: "bots.yaml",
      baseDir: "/",
      env: {},
    });
    const settings = resolveSettings(config);
    const store = createStorage({
      redis: settings.redis,
      keyPrefix: settings.keyPrefix,
      botIds: [],
      logger: memoryLogger().logger,
      connectTimeoutMs: 1_000,
    });
    const err = await store.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "BOT_HOST_REDIS_UNREACHABLE" });
    expect(String((err as Error).message)).toContain("redis://user:***@127.0.0.1:9/0");
    expect(String((err as Error).message)).not.toContain("s3cret");
    await store.stop();
  });
});

describe("Redis eviction check", () => {
  const evictionWarnings = (lines: Array<{ msg?: string }>) => lines.filter((l) => l.msg?.startsWith("Redis evicts keys"));

  it("warns at start, naming the risk and the fix, when Redis may evict keys (allkeys-lru)", async () => {
    const server = await startRedisServer(undefined, ["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"]);
    const { logger, lines } = memoryLogger();
    const store = storageAt(server.url, uniquePrefix(), { logger });
    try {
      await store.start();
      const warning = evictionWarnings(lines);
      expect(warning).toHaveLength(1);
      expect(warning[0]).toMatchObject({ level: 40, maxmemory_policy: "allkeys-lru" });
      expect(warning[0]!.msg).toContain("updates can be lost");
      expect(warning[0]!.msg).toContain("maxmemory-policy noeviction");
    } finally {
      await store.stop();
      await server.stop();
    }
  });

  it("says nothing with noeviction", async () => {
    const { logger, lines } = memoryLogger();
    const store = storageAt(redisUrl, uniquePrefix(), { logger });
    await store.start();
    await store.stop();
    expect(evictionWarnings(lines)).toEqual([]);
    expect(lines.filter((l) => (l as { level?: number }).level === 40)).toEqual([]);
  });
});
