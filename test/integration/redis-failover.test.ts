import { Cluster, Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { FakeBotApi } from "../support/fake-bot-api.js";
import { MessageStream } from "../support/message-stream.js";
import { buildYaml, fakeToken, startHost, uniquePrefix, type LogLine } from "../support/harness.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";
import { startRedisSentinel, type RedisSentinel } from "../support/redis-sentinel.js";
import type { Host } from "../../src/host.js";

describe("a Redis Cluster failing over under load (3 masters, 3 replicas, min_replicas 1)", () => {
  let fake: FakeBotApi;
  let cluster: RedisCluster | undefined;
  let host: Host | undefined;
  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await cluster?.stop();
    cluster = undefined;
    await fake?.stop();
  });

  it("a manual failover and a SIGKILLed master: nothing lost, nothing answered twice, sessions exact, the host stays up", async () => {
    fake = await FakeBotApi.start();
    const bots = [1, 2, 3, 4, 5, 6].map((n) => ({ id: `f${n}`, token: fakeToken(780 + n) }));
    for (const b of bots) fake.addBot(b.token);
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    const prefix = uniquePrefix();
    const seeds = cluster.seeds.map((s) => `"${s}"`).join(", ");
    let lines: LogLine[];
    ({ host, lines } = await startHost(
      buildYaml({ apiRoot: fake.apiRoot, bots, extra: `redis:\n  cluster: [ ${seeds} ]\n  min_replicas: 1\n  key_prefix: "${prefix}"` }),
    ));
    const stream = new MessageStream(fake, bots, 4, { firstChat: 800, label: "f" });
    stream.start(20);
    await stream.progress(50);

    // 1. a manual failover of the shard that holds the first bot's journal
    const journal = `${prefix}journal:{${bots[0]!.id}}`;
    const first = await cluster.masterOf(journal);
    await cluster.failover((await cluster.replicasOf(first))[0]!);
    await stream.progress(50);

    // 2. SIGKILL of the master that holds the second bot's journal; its shard has no replica left to WAIT for
    //    until the killed node is back (restarted empty, as a replica)
    const killed = await cluster.killMaster(`${prefix}journal:{${bots[1]!.id}}`);
    await cluster.waitHealthy(60_000).catch(() => undefined);
    await cluster.restartNode(killed);
    await stream.progress(50);
    stream.stop();
    await stream.allAnswered(60_000);

    expect(host.readiness().ready).toBe(true);
    const answers = stream.answers();
    expect(stream.labels.filter((l) => (answers.get(l) ?? 0) !== 1)).toEqual([]);
    // each failover is logged once: the master set changed twice
    const failovers = lines.filter((l) => l.msg === "the Redis Cluster's masters changed (a failover); writes to the moved slots go to the new masters");
    expect(failovers.map((l) => l.gone)).toEqual([[`127.0.0.1:${first}`], [`127.0.0.1:${killed}`]]);
    await host.stop();
    host = undefined;
    const client = new Cluster(cluster.seeds.map((s) => ({ host: "127.0.0.1", port: Number(s.split(":")[1]) })));
    try {
      for (const [key, count] of stream.perChat) {
        const [bot, chat] = key.split(":");
        expect(JSON.parse((await client.get(`${prefix}session:{${bot}}:${chat}`)) ?? "null"), key).toEqual({ count });
      }
    } finally {
      client.disconnect();
    }
  }, 180_000);
});

describe("a master behind Sentinel failing over under load (a replica, 3 sentinels, min_replicas 1)", () => {
  let fake: FakeBotApi;
  let sentinel: RedisSentinel | undefined;
  let host: Host | undefined;
  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await sentinel?.stop();
    sentinel = undefined;
    await fake?.stop();
  });

  it("SENTINEL FAILOVER and a SIGKILLed master: nothing lost, nothing answered twice, sessions exact, the host stays up", async () => {
    fake = await FakeBotApi.start();
    const bots = [1, 2, 3].map((n) => ({ id: `s${n}`, token: fakeToken(790 + n) }));
    for (const b of bots) fake.addBot(b.token);
    sentinel = await startRedisSentinel({ name: "failmaster" });
    const prefix = uniquePrefix();
    const sentinels = sentinel.sentinels.map((s) => `"${s}"`).join(", ");
    let lines: LogLine[];
    ({ host, lines } = await startHost(
      buildYaml({ apiRoot: fake.apiRoot, bots, extra: `redis:\n  sentinel:\n    sentinels: [ ${sentinels} ]\n    name: failmaster\n  min_replicas: 1\n  key_prefix: "${prefix}"` }),
    ));
    const stream = new MessageStream(fake, bots, 4, { firstChat: 800, label: "f" });
    stream.start(20);
    await stream.progress(50);
    // 1. a manual failover: the old master is demoted only seconds later, and writes it takes meanwhile are lost
    await sentinel.failover();
    await sentinel.waitSettled(60_000);
    await stream.progress(50);
    // 2. the new master SIGKILLed; the sentinels promote the other node, and the killed one comes back as its replica
    const killed = await sentinel.killMaster();
    await sentinel.waitForNewMaster(killed);
    await sentinel.restart(killed);
    await sentinel.waitSettled(60_000);
    await stream.progress(50);
    stream.stop();
    await stream.allAnswered(60_000);

    expect(host.readiness().ready).toBe(true);
    const answers = stream.answers();
    expect(stream.labels.filter((l) => (answers.get(l) ?? 0) !== 1)).toEqual([]);
    // each of the two failovers is logged once: as the connection closing, or (a killed master) as its error
    const outages = lines.filter((l) => typeof l.msg === "string" && /^(the Redis master connection closed|lost the Redis connection)/.test(l.msg));
    expect(outages).toHaveLength(2);
    await host.stop();
    host = undefined;
    const master = new Redis({ host: "127.0.0.1", port: sentinel.masterPort() });
    try {
      for (const [key, count] of stream.perChat) {
        const [bot, chat] = key.split(":");
        expect(JSON.parse((await master.get(`${prefix}session:{${bot}}:${chat}`)) ?? "null"), key).toEqual({ count });
      }
    } finally {
      master.disconnect();
    }
  }, 180_000);
});
