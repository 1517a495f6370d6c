import { describe, expect, it } from "vitest";
import { hostStatus, type LeasesView, type StatusSources } from "../../../src/http/readiness.js";
import type { BotStatus } from "../../../src/runtime/bot-runner.js";

const running = (id: string): BotStatus => ({ id, state: "running", inFlight: 0, deadLetters: 0, audience: 0 });

function sources(bots: BotStatus[] | undefined, leases?: Partial<LeasesView>): StatusSources {
  return {
    bots: () => bots,
    store: { name: "redis", health: () => ({ ok: true }) },
    draining: () => false,
    leases:
      leases === undefined
        ? undefined
        : {
            instanceId: "a#1",
            ownedIds: () => (bots ?? []).map((b) => b.id),
            standbyIds: () => [],
            reachabilityView: () => ({ cutOff: false, givenUp: [] }),
            serving: () => true,
            ...leases,
          },
  };
}

describe("readiness tells the truth at start", () => {
  it("is not ready before the bots can start, ready once every bot here runs", () => {
    expect(hostStatus(sources(undefined)).ready).toBe(false);
    expect(hostStatus(sources([running("a"), { ...running("b"), state: "starting" }])).ready).toBe(false);
    expect(hostStatus(sources([running("a"), running("b")])).ready).toBe(true);
  });

  it("with leases, every bot taken so far running is not enough: the instance must hold its share", () => {
    // the first bots taken run, the rest of the share is not taken yet
    expect(hostStatus(sources([running("a")], { serving: () => false })).ready).toBe(false);
    expect(hostStatus(sources([], { serving: () => false })).ready).toBe(false);
    expect(hostStatus(sources([running("a")], { serving: () => true })).ready).toBe(true);
    expect(hostStatus(sources([running("a")], { reachabilityView: () => ({ cutOff: true, givenUp: [] }) })).ready).toBe(false);
  });
});
