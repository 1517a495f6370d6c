import { describe, expect, it } from "vitest";
import { MessageStream } from "../support/message-stream.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix, waitUntil, type LogLine } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { startRedisServer } from "../support/redis-server.js";

// Every write acknowledged is on disk before the answer: a SIGKILLed server comes back with all of them.
const AOF = ["--appendonly", "yes", "--appendfsync", "always"];
// The length of each outage, as an operator meets it (a Redis paused by a stuck disk, then a crash and a restart).
const OUTAGE_MS = 9_000;

const repeated = (lines: LogLine[]): LogLine[] =>
  lines.filter((l) => l.msg === "update left to the bot's new owner: this instance lost the lease");

describe("one instance with the default leases through Redis outages", () => {
  const fx = useHost({ drainTimeoutMs: 5_000 });

  it("a 9 s pause and a 9 s kill (restarted from its AOF) under load: nothing repeated, nothing lost, sessions exact", async () => {
    const fake = await fx.startFake();
    const bots = [1, 2, 3].map((n) => ({ id: `o${n}`, token: fakeToken(260 + n) }));
    for (const b of bots) fake.addBot(b.token);
    let redis = fx.track(await startRedisServer(undefined, AOF));
    const prefix = uniquePrefix();
    // `leases:` with nothing in it: the defaults (on with Redis, a 10 s TTL).
    const yaml = buildYaml({ apiRoot: fake.apiRoot, redisUrl: redis.url, prefix, bots, leases: "leases:\n  balance: true" });
    const { lines } = await fx.start(yaml);
    const stream = new MessageStream(fake, bots, 4, { firstChat: 600, label: "o" });
    stream.start(25);
    await stream.progress(40);

    // 1. paused: the lease renewals go unanswered past the lease's validity; the work already done waits
    process.kill(redis.pid, "SIGSTOP");
    await waitUntil(() => lines.some((l) => l.msg?.startsWith("cannot reach Redis for the leases")), "the lease renewals failing", 10_000);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    process.kill(redis.pid, "SIGCONT");
    await stream.progress(40);

    // 2. killed, and started again from its AOF: the lease expired meanwhile, nobody took it, the bots go on
    await redis.kill();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    redis = fx.track(await startRedisServer(redis.port, AOF, { dir: redis.dir }));
    await stream.progress(40, 60_000);
    stream.stop();
    await stream.allAnswered(60_000);

    const answers = stream.answers();
    for (const label of stream.labels) expect(answers.get(label), label).toBe(1);
    await expectSessionCounts(redis.url, prefix, stream.perChat);
    expect(repeated(lines)).toEqual([]);
    expect(lines.filter((l) => l.msg?.startsWith("lost the lease"))).toEqual([]);
    expect(lines.filter((l) => l.msg === "kept the lease of this bot through the outage; the bot goes on").length).toBeGreaterThan(0);
  }, 120_000);
});
