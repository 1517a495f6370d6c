import { describe, expect, it } from "vitest";
import { Faults, type Arrival } from "../../src/local-api/bot-api/faults.js";

const send = (chat: number, seq: number): Arrival => ({ method: "sendMessage", chat: String(chat), seq, at: performance.now() });

describe("Faults: retry_after violations", () => {
  it("a call that reached the fake before the 429 was answered was in flight; one that came after did not wait", () => {
    const f = new Faults();
    f.addRule({ methods: ["sendMessage"], count: 1, retryAfter: 60 });
    // arrivals 1..3 reached the fake; the 429 to arrival 1 is answered while 2 and 3 are still being read
    expect(f.check(send(1, 1), 3)?.code).toBe(429);
    f.arrive(send(1, 2));
    f.arrive(send(1, 3));
    expect(f.violations).toBe(0);
    f.arrive(send(1, 4));
    expect(f.violations).toBe(1);
    f.arrive(send(2, 5)); // another chat
    f.arrive({ method: "getMe", chat: undefined, seq: 6, at: performance.now() });
    f.arrive({ method: "getUpdates", chat: undefined, seq: 7, at: performance.now() });
    expect(f.violations).toBe(1);
  });

  it("a wait of the bot holds every call but polling; a wait of every chat holds calls in chats", () => {
    const f = new Faults();
    f.startWait("bot", 60, false, 10);
    f.arrive(send(1, 11));
    f.arrive({ method: "getMe", chat: undefined, seq: 12, at: performance.now() });
    f.arrive({ method: "getUpdates", chat: undefined, seq: 13, at: performance.now() });
    expect(f.violations).toBe(2);
    const g = new Faults();
    g.startWait("chats", 60, true, 10);
    g.arrive({ method: "getMe", chat: undefined, seq: 11, at: performance.now() });
    expect(g.violations).toBe(0);
    expect(g.check({ method: "getMe", chat: undefined, seq: 11, at: performance.now() }, 11)).toBeUndefined();
    expect(g.check(send(5, 12), 12)?.code).toBe(429);
    expect(g.tooMany).toBe(2);
  });
});
