import { hostname } from "node:os";
import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { message } from "../support/updates.js";
import { buildYaml, fakeToken, uniquePrefix, waitUntil } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import type { Host } from "../../src/host/host.js";
import { createKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");

interface ReadyBody {
  ready: boolean;
  bots: Record<string, { state: string }>;
  leases?: { instance: string; owned: string[]; standby: string[] };
}

async function readyz(host: Host): Promise<{ status: number; body: ReadyBody }> {
  const { host: h, port } = host.httpAddress!;
  const res = await fetch(`http://${h}:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as ReadyBody };
}

describe("leases as operators see them (/readyz, metrics, settings)", () => {
  const fx = useHost();

  it("lists owned and standby bots in /readyz; a standby-only instance is ready; metrics count owned bots and lease events", async () => {
    const fake = await fx.startFake();
    const bots = [1, 2].map((n) => ({ id: `r${n}`, token: fakeToken(560 + n) }));
    for (const b of bots) fake.addBot(b.token);
    const yaml = buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix: uniquePrefix(), bots });
    for (let i = 0; i < 3; i++) await fx.start(yaml);
    const hosts = fx.hosts;
    const [a, b, c] = hosts as [Host, Host, Host];
    // three instances, two bots: one each for two of them, the third stands by
    const settled = async (): Promise<boolean> => {
      const owned = await Promise.all(hosts.map(async (h) => (await readyz(h)).body.leases?.owned.length ?? -1));
      return owned.filter((n) => n === 1).length === 2 && owned.includes(0);
    };
    await waitUntil(settled, "two instances own one bot each");
    for (const h of [a, b, c]) {
      const { status, body } = await readyz(h);
      expect(status).toBe(200);
      expect(body.ready).toBe(true);
      expect(body.leases!.instance).toMatch(new RegExp(`^${hostname().replace(/[^A-Za-z0-9_.-]/g, "-")}#\\d+-[0-9a-f]{6}$`));
      expect([...body.leases!.owned, ...body.leases!.standby].sort()).toEqual(["r1", "r2"]);
      expect(Object.keys(body.bots)).toEqual(body.leases!.owned);
    }
    const owner = (await Promise.all(hosts.map(async (h) => ((await readyz(h)).body.leases!.owned.includes("r1") ? h : undefined)))).find(
      Boolean,
    )!;
    const metrics = await owner.metrics.registry.metrics();
    expect(metrics).toMatch(/^bot_host_owned_bots 1$/m);
    expect(metrics).toMatch(/^bot_host_lease_events_total\{bot="r1",event="acquired"\} 1$/m);
    // the bot answers through whichever instance owns it
    fake.inject(bots[0]!.token, message(5, "hello"));
    await fake.waitFor(() => fake.sent(bots[0]!.token).length === 1);
  });

  it("a bot failing with 401 stays failed where it failed: no other instance retries it in a loop", async () => {
    const fake = await fx.startFake();
    const good = { id: "good", token: fakeToken(575) };
    const bad = { id: "bad", token: fakeToken(576) }; // never added to the fake: 401
    fake.addBot(good.token);
    const prefix = uniquePrefix();
    const keys = createKeys(prefix);
    const yaml = buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: [good, bad] });
    const { host: first } = await fx.start(yaml);
    const { host: second } = await fx.start(yaml);
    const redis = new Redis(redisUrl);
    try {
      await waitUntil(async () => {
        const owned = await Promise.all([first, second].map(async (h) => (await readyz(h)).body.leases!.owned.length));
        return owned[0] === 1 && owned[1] === 1;
      }, "one bot on each instance");
      const fence = await redis.get(keys.fence(bad.id));
      expect(fence).toMatch(/^\d+$/);
      const getMes = fake.calls(bad.token).filter((c) => c.method === "getMe").length;
      const lease = await redis.get(keys.lease(bad.id));
      const holder = lease!.slice(0, lease!.lastIndexOf("/"));
      // watch the owner keep the bad bot's lease through three heartbeats (its registration jumps ahead each time)
      let renewals = 0;
      let last = -Infinity;
      await waitUntil(
        async () => {
          const until = Number(await redis.zscore(keys.instances(), holder));
          if (until > last && last !== -Infinity) renewals++;
          last = until;
          return renewals >= 3;
        },
        "three heartbeats of the failed bot's owner",
        30_000,
      );
      expect(await redis.get(keys.lease(bad.id))).toBe(lease);
      expect(await redis.get(keys.fence(bad.id))).toBe(fence);
      expect(fake.calls(bad.token).filter((c) => c.method === "getMe")).toHaveLength(getMes);
      const states = await Promise.all([first, second].map(async (h) => (await readyz(h)).body));
      const owner = states.find((b) => b.leases!.owned.includes("bad"))!;
      expect(owner.bots.bad).toMatchObject({ state: "failed" });
      expect(owner.ready).toBe(false);
      expect(states.find((b) => b !== owner)!.leases!.standby).toContain("bad");
    } finally {
      redis.disconnect();
    }
  });

  it("with leases.enabled false every bot runs here and no lease is taken", async () => {
    const fake = await fx.startFake();
    const bot = { id: "solo", token: fakeToken(570) };
    fake.addBot(bot.token);
    const prefix = uniquePrefix();
    const { host } = await fx.start(
      buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots: [bot], leases: "leases:\n  enabled: false" }),
    );
    const { body } = await readyz(host);
    expect(body.ready).toBe(true);
    expect(body.leases).toBeUndefined();
    const redis = new Redis(redisUrl);
    expect(await redis.keys(`${prefix}lease:*`)).toEqual([]);
    redis.disconnect();
  });
});
