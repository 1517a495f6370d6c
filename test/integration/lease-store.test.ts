import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { uniquePrefix } from "../support/harness.js";
import { createKeys, type KeyBuilder } from "../../src/storage/keys.js";
import { LeaseStore, type LeaseEvent } from "../../src/storage/lease-store.js";
import { LEASE_SCRIPTS } from "../../src/storage/lease-scripts.js";

const redisUrl = inject("redisUrl");
const TTL = 2_000;

/** Waits for `predicate` on Redis-side state or heard events (no fixed sleep). */
async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await predicate())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`not reached: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("leases tied to one heartbeat per instance (LeaseStore on real Redis)", () => {
  let keys: KeyBuilder;
  const clients: Redis[] = [];
  const store = (instanceId: string): LeaseStore => {
    const redis = new Redis(redisUrl);
    const subscriber = new Redis(redisUrl);
    clients.push(redis, subscriber);
    return new LeaseStore({ redis, subscriber, keys, instanceId, ttlMs: TTL });
  };

  beforeEach(() => {
    keys = createKeys(uniquePrefix());
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });

  it("has a test here for every lease script", () => {
    expect(Object.keys(LEASE_SCRIPTS).sort()).toEqual(
      ["bhHeartbeat", "bhInstanceLeft", "bhLeaseAcquire", "bhLeaseRelease", "bhLeaseTakeFrom", "bhLeaseVerify"].sort(),
    );
  });

  it("one heartbeat keeps every lease: the lease keys have no TTL, the registration has one", async () => {
    const a = store("a#1");
    const first = await a.heartbeat();
    expect(first).toMatchObject({ live: 1, cutOff: 0, lapsed: true });
    const tokens = await Promise.all(["x", "y", "z"].map((bot) => a.acquire(bot)));
    expect(tokens.map((t) => t.token)).toEqual(["a#1/1", "a#1/1", "a#1/1"]);
    const redis = clients[0]!;
    for (const bot of ["x", "y", "z"]) expect(await redis.pttl(keys.lease(bot))).toBe(-1);
    const again = await a.heartbeat();
    expect(again.lapsed).toBe(false);
    expect(again.instances.get("a#1")).toBeGreaterThan(TTL - 500);
    expect(await a.registeredFor("a#1")).toBeGreaterThan(0);
    expect(await a.registeredFor("nobody#1")).toBe(-1);
  });

  it("another instance takes a lease only once its holder's registration ran out, with a new fence, and says so", async () => {
    const a = store("a#1");
    const b = store("b#1");
    const heard: LeaseEvent[] = [];
    await a.subscribe((e) => heard.push(e));
    await a.heartbeat();
    await b.heartbeat();
    const held = await a.acquire("x");
    expect(held.token).toBe("a#1/1");
    const seen = await b.acquire("x");
    expect(seen).toEqual({ token: undefined, holder: "a#1/1" });
    // the holder is registered: a take-over from a stale reading is refused once the value moved
    expect(await b.takeFrom("x", "a#1/0")).toBeUndefined();
    await until(async () => (await b.registeredFor("a#1")) < 0, "a's registration runs out", TTL + 5_000);
    const taken = await b.takeFrom("x", "a#1/1");
    expect(taken).toBe("b#1/2");
    await until(() => heard.some((e) => e.kind === "taken" && e.id === "x"), "the take-over heard");
    expect(heard.find((e) => e.kind === "taken")).toEqual({ kind: "taken", id: "x", token: "b#1/2" });
    // a's next heartbeat says its registration lapsed, and verifying finds the lease gone to b
    expect((await a.heartbeat()).lapsed).toBe(true);
    expect(await a.verify("x", "a#1/1")).toBe(false);
    expect(await b.verify("x", "b#1/2")).toBe(true);
  });

  it("a lapsed holder keeps a lease nobody took, with the same token, even if the key is gone (the fence decides)", async () => {
    const a = store("a#1");
    await a.heartbeat();
    const { token } = await a.acquire("x");
    const redis = clients[0]!;
    await redis.del(keys.lease("x"));
    expect(await a.verify("x", token!)).toBe(true);
    expect(await redis.get(keys.lease("x"))).toBe(token);
    await redis.del(keys.lease("x"));
    await redis.incr(keys.fence("x")); // somebody acquired it since
    expect(await a.verify("x", token!)).toBe(false);
  });

  it("a leaving instance keeps its leases but takes no share; releases are announced; deregister removes it", async () => {
    const a = store("a#1");
    const b = store("b#1");
    const heard: LeaseEvent[] = [];
    await b.subscribe((e) => heard.push(e));
    await a.heartbeat();
    expect((await b.heartbeat()).live).toBe(2);
    const { token } = await a.acquire("x");
    await a.leave();
    const registry = await b.heartbeat();
    expect(registry.live).toBe(1);
    expect(registry.instances.has("a#1")).toBe(true); // still registered: its leases hold while it drains
    expect(await a.release("x", "a#1/99")).toBe(false);
    expect(await a.release("x", token!)).toBe(true);
    await a.deregister();
    expect(await b.registeredFor("a#1")).toBe(-1);
    await until(() => heard.some((e) => e.kind === "released" && e.id === "x"), "the release heard");
    expect(heard.some((e) => e.kind === "left" && e.id === "a#1")).toBe(true);
  });
});
