import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { startRedisCluster, type RedisCluster } from "../support/redis-cluster.js";
import { startRedisSentinel, type RedisSentinel } from "../support/redis-sentinel.js";
import { createKeys } from "../../src/storage/keys.js";

/** Sends `n` messages over `chats` chats of every bot; returns how many each `<bot>:<chat>` got. */
function sendLoad(fake: LocalBotApi, bots: ReadonlyArray<{ id: string; token: string }>, chats: number, n: number): Map<string, number> {
  const perChat = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const b = bots[i % bots.length]!;
    const chat = 300 + (Math.floor(i / bots.length) % chats);
    perChat.set(`${b.id}:${chat}`, (perChat.get(`${b.id}:${chat}`) ?? 0) + 1);
    fake.inject(b.token, message(chat, `t${i}`));
  }
  return perChat;
}

describe("the host on a Redis Cluster and behind Sentinel (real deployments)", () => {
  // one local Bot API for the whole file (the fixture starts only the hosts, one per test)
  let fake: LocalBotApi;
  const fx = useHost();
  const bots = [1, 2, 3, 4].map((n) => ({ id: `c${n}`, token: fakeToken(740 + n) }));
  beforeAll(async () => {
    fake = await LocalBotApi.start();
    for (const b of bots) fake.addBot(b.token);
  });
  afterAll(async () => {
    await fake.stop();
  });

  describe("Redis Cluster, 3 masters and 3 replicas", () => {
    let cluster: RedisCluster;
    beforeAll(async () => {
      cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    }, 120_000);
    afterAll(async () => {
      await cluster?.stop();
    });

    it("journals, commits and leases each bot on its own slot: every update handled once, sessions exact", async () => {
      const prefix = uniquePrefix();
      const seeds = cluster.seeds.map((s) => `"${s}"`).join(", ");
      const yaml = buildYaml({
        apiRoot: fake.apiRoot,
        bots,
        extra: `redis:\n  cluster: [ ${seeds} ]\n  min_replicas: 1\n  key_prefix: "${prefix}"`,
      });
      const { host } = await fx.start(yaml);
      const ready = host.readiness();
      expect(ready).toMatchObject({ ready: true, store: { name: "redis", ok: true } });
      expect([...ready.leases!.owned].sort()).toEqual(bots.map((b) => b.id).sort());
      const before = bots.map((b) => fake.sent(b.token).length);
      const perChat = sendLoad(fake, bots, 5, 200);
      await fake.waitFor(() => bots.every((b, i) => fake.sent(b.token).length - before[i]! === 50), 20_000, "200 replies");
      await host.stop();
      const client = new Cluster(cluster.seeds.map((s) => ({ host: s.split(":")[0]!, port: Number(s.split(":")[1]) })));
      try {
        await expectSessionCounts(client, prefix, perChat);
        // each bot's keys live on one slot (a script over them would fail with CROSSSLOT otherwise)
        const keys = createKeys(prefix);
        for (const b of bots) {
          const slots = await Promise.all(
            [keys.journal(b.id), keys.session(b.id, "300"), keys.lease(b.id)].map((k) => client.cluster("KEYSLOT", k)),
          );
          expect(new Set(slots).size).toBe(1);
        }
      } finally {
        client.disconnect();
      }
    }, 60_000);
  });

  describe("Sentinel: a master, a replica, three sentinels", () => {
    let sentinel: RedisSentinel;
    beforeAll(async () => {
      sentinel = await startRedisSentinel({ name: "botmaster" });
    }, 120_000);
    afterAll(async () => {
      await sentinel?.stop();
    });

    it("finds the master through the sentinels, each journal write acknowledged by the replica: every update handled once, sessions exact", async () => {
      const prefix = uniquePrefix();
      const sentinels = sentinel.sentinels.map((s) => `"${s}"`).join(", ");
      // every journal write waits for the replica (WAIT 1)
      const yaml = buildYaml({
        apiRoot: fake.apiRoot,
        bots,
        extra: `redis:\n  sentinel:\n    sentinels: [ ${sentinels} ]\n    name: botmaster\n  min_replicas: 1\n  key_prefix: "${prefix}"`,
      });
      const { host } = await fx.start(yaml);
      expect(host.readiness()).toMatchObject({ ready: true, store: { ok: true } });
      const before = bots.map((b) => fake.sent(b.token).length);
      const perChat = sendLoad(fake, bots, 5, 100);
      await fake.waitFor(() => bots.every((b, i) => fake.sent(b.token).length - before[i]! === 25), 20_000, "100 replies");
      await host.stop();
      const master = new Redis({ host: "127.0.0.1", port: sentinel.masterPort() });
      try {
        await expectSessionCounts(master, prefix, perChat);
      } finally {
        master.disconnect();
      }
    }, 60_000);
  });
});
