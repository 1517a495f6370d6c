import { describe, expect, inject, it } from "vitest";
import { message } from "../support/updates.js";
import { buildYaml, fakeToken } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import type { Host } from "../../src/host/host.js";

const redisUrl = inject("redisUrl");

describe("backpressure", () => {
  const fx = useHost();

  it("never has more updates in flight than the per-bot and global caps while a backlog drains", async () => {
    const fake = await fx.startFake();
    const bots = [0, 1, 2].map((i) => ({ id: `bp${i}`, token: fakeToken(400 + i) }));
    for (const b of bots) {
      fake.addBot(b.token);
      // the backlog is there before the host starts: the first getUpdates could fetch 100 at once
      fake.injectMany(
        b.token,
        Array.from({ length: 150 }, (_, i) => message(1 + (i % 30), `q${i} sleep=15`)),
      );
    }
    const yaml = buildYaml({ apiRoot: fake.apiRoot, redisUrl, bots }).replace(
      "polling:\n  timeout: 1",
      "polling:\n  timeout: 1\n  concurrency: 5\n  global_concurrency: 8",
    );
    let maxBot = 0;
    let maxAll = 0;
    let samples = 0;
    let host: Host | undefined;
    const started = fx.start(yaml);
    const sampler = setInterval(() => {
      if (host === undefined) return;
      const sizes = host.status().bots.map((b) => b.inFlight);
      maxBot = Math.max(maxBot, ...sizes);
      maxAll = Math.max(
        maxAll,
        sizes.reduce((a, b) => a + b, 0),
      );
      samples++;
    }, 2);
    ({ host } = await started);
    for (const b of bots) await fake.waitForSent(b.token, 150, 30_000);
    clearInterval(sampler);
    expect(samples).toBeGreaterThan(50);
    expect(maxBot).toBe(5); // reached, never exceeded
    expect(maxAll).toBeLessThanOrEqual(8);
    expect(maxAll).toBeGreaterThanOrEqual(6);
    // getUpdates asked for no more than there was room for
    for (const b of bots) {
      const limits = fake
        .calls(b.token)
        .filter((c) => c.method === "getUpdates")
        .map((c) => Number(c.params.limit));
      expect(Math.max(...limits)).toBeLessThanOrEqual(8);
    }
  }, 40_000);
});
