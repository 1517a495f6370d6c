import { describe, expect, it } from "vitest";
import { message } from "../support/updates.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";

const BOTS = [1, 2].map((n) => ({ id: `hang${n}`, token: fakeToken(520 + n) }));

describe("a Redis that hangs (SIGSTOP) while the host runs", () => {
  let redis: RedisServer | undefined;
  const fx = useHost({
    drainTimeoutMs: 5_000,
    ignoreStopErrors: true,
    // a test that failed while Redis was paused: let the host's stop reach it
    beforeStop: () => {
      if (redis !== undefined) process.kill(redis.pid, "SIGCONT");
      redis = undefined;
    },
  });

  it("turns /readyz 503 with the reason within 5 s, back to 200 after SIGCONT; lost 0, repeated 0", async () => {
    const fake = await fx.startFake();
    for (const b of BOTS) fake.addBot(b.token);
    redis = fx.track(await startRedisServer());
    const prefix = uniquePrefix();
    const { host, lines } = await fx.start(buildYaml({ apiRoot: fake.apiRoot, redisUrl: redis.url, prefix, bots: BOTS }));
    const base = `http://127.0.0.1:${host.httpAddress!.port}`;
    const readyz = async (): Promise<{ status: number; body: { ready: boolean; store: { ok: boolean; reason?: string } } }> => {
      const res = await fetch(`${base}/readyz`);
      return { status: res.status, body: (await res.json()) as never };
    };
    const metric = async (): Promise<string | undefined> =>
      /^bot_host_redis_connected (\d)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1];
    const poll = async <T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await read();
        if (ok(v)) return v;
        if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    expect((await readyz()).status).toBe(200);

    const perChat = new Map<string, number>();
    let n = 0;
    const send = (): void => {
      const b = BOTS[n % 2]!;
      const chat = 40 + (n % 5);
      perChat.set(`${b.id}:${chat}`, (perChat.get(`${b.id}:${chat}`) ?? 0) + 1);
      fake.inject(b.token, message(chat, `h${n}`));
      n++;
    };
    const load = setInterval(send, 20);
    try {
      await fake.waitFor(() => BOTS.every((b) => fake.sentCount(b.token) >= 5), 10_000, "answers before the pause");
      process.kill(redis.pid, "SIGSTOP");
      const paused = await poll(readyz, (r) => r.status === 503, 5_000, "/readyz while Redis is paused");
      expect(paused.body).toMatchObject({ ready: false, store: { ok: false, reason: expect.stringContaining("PING") } });
      expect(await metric()).toBe("0");
      process.kill(redis.pid, "SIGCONT");
      await poll(readyz, (r) => r.status === 200, 10_000, "/readyz after SIGCONT");
      expect(await metric()).toBe("1");
    } finally {
      clearInterval(load);
    }
    const total = n;
    const labels = (): string[] => BOTS.flatMap((b) => fake.sent(b.token).map((s) => s.text.split("|")[3]!));
    await fake.waitFor(() => labels().length >= total, 15_000, "every update answered");
    expect(labels().length).toBe(total);
    expect(new Set(labels()).size).toBe(total);
    await expectSessionCounts(redis.url, prefix, perChat);
    expect(lines.filter((l) => l.msg?.startsWith("Redis is not answering"))).toHaveLength(1);
    expect(lines.filter((l) => l.msg?.startsWith("Redis answers again"))).toHaveLength(1);
  }, 60_000);
});
