import { Cluster, Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { MessageStream } from "../support/message-stream.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { startRedisCluster } from "../support/redis-cluster.js";
import { startRedisSentinel } from "../support/redis-sentinel.js";
import { createKeys } from "../../src/storage/keys.js";

describe("a Redis Cluster failing over under load (3 masters, 3 replicas, min_replicas 1)", () => {
  const fx = useHost();

  it("a manual failover and a SIGKILLed master: nothing lost, nothing answered twice, sessions exact, the host stays up", async () => {
    const fake = await fx.startFake();
    const bots = [1, 2, 3, 4, 5, 6].map((n) => ({ id: `f${n}`, token: fakeToken(780 + n) }));
    for (const b of bots) fake.addBot(b.token);
    const cluster = fx.track(await startRedisCluster({ masters: 3, replicasPerMaster: 1 }));
    const prefix = uniquePrefix();
    const keys = createKeys(prefix);
    const seeds = cluster.seeds.map((s) => `"${s}"`).join(", ");
    const { host, lines } = await fx.start(
      buildYaml({ apiRoot: fake.apiRoot, bots, extra: `redis:\n  cluster: [ ${seeds} ]\n  min_replicas: 1\n  key_prefix: "${prefix}"` }),
    );
    const stream = new MessageStream(fake, bots, 4, { firstChat: 800, label: "f" });
    stream.start(20);
    await stream.progress(50);

    // 1. a manual failover of the shard that holds the first bot's journal
    const journal = keys.journal(bots[0]!.id);
    const first = await cluster.masterOf(journal);
    await cluster.failover((await cluster.replicasOf(first))[0]!);
    await stream.progress(50);

    // 2. SIGKILL of the master that holds the second bot's journal; its shard has no replica left to WAIT for
    //    until the killed node is back (restarted empty, as a replica)
    const killed = await cluster.killMaster(keys.journal(bots[1]!.id));
    await cluster.waitHealthy(60_000).catch(() => undefined);
    await cluster.restartNode(killed);
    await stream.progress(50);
    stream.stop();
    await stream.allAnswered(60_000);

    expect(host.readiness().ready).toBe(true);
    const answers = stream.answers();
    expect(stream.labels.filter((l) => (answers.get(l) ?? 0) !== 1)).toEqual([]);
    // each failover is logged once: the master set changed twice
    const failovers = lines.filter(
      (l) => l.msg === "the Redis Cluster's masters changed (a failover); writes to the moved slots go to the new masters",
    );
    expect(failovers.map((l) => l.gone)).toEqual([[`127.0.0.1:${first}`], [`127.0.0.1:${killed}`]]);
    await host.stop();
    const client = new Cluster(cluster.seeds.map((s) => ({ host: "127.0.0.1", port: Number(s.split(":")[1]) })));
    try {
      await expectSessionCounts(client, prefix, stream.perChat);
    } finally {
      client.disconnect();
    }
  }, 180_000);
});

describe("a master behind Sentinel failing over under load (a replica, 3 sentinels, min_replicas 1)", () => {
  const fx = useHost();

  it("SENTINEL FAILOVER and a SIGKILLed master: nothing lost, nothing answered twice, sessions exact, the host stays up", async () => {
    const fake = await fx.startFake();
    const bots = [1, 2, 3].map((n) => ({ id: `s${n}`, token: fakeToken(790 + n) }));
    for (const b of bots) fake.addBot(b.token);
    const sentinel = fx.track(await startRedisSentinel({ name: "failmaster" }));
    const prefix = uniquePrefix();
    const sentinels = sentinel.sentinels.map((s) => `"${s}"`).join(", ");
    const { host, lines } = await fx.start(
      buildYaml({
        apiRoot: fake.apiRoot,
        bots,
        extra: `redis:\n  sentinel:\n    sentinels: [ ${sentinels} ]\n    name: failmaster\n  min_replicas: 1\n  key_prefix: "${prefix}"`,
      }),
    );
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
    const outages = lines.filter(
      (l) => typeof l.msg === "string" && /^(the Redis master connection closed|lost the Redis connection)/.test(l.msg),
    );
    expect(outages).toHaveLength(2);
    await host.stop();
    const master = new Redis({ host: "127.0.0.1", port: sentinel.masterPort() });
    try {
      await expectSessionCounts(master, prefix, stream.perChat);
    } finally {
      master.disconnect();
    }
  }, 180_000);
});
