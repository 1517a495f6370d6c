import { Redis } from "ioredis";
import { describe, expect, inject, it } from "vitest";
import { command } from "../support/updates.js";
import { buildYaml, fakeToken, fixture, uniquePrefix, type LogLine } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";
import { pluginStorage } from "../../src/index.js";
import { ErrorCodes } from "../../src/errors.js";
import { createKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");

describe.each(["redis", "memory"] as const)("pluginStorage under two bots, %s store", (kind) => {
  const fx = useHost();
  const a = { id: "alpha", token: fakeToken(420) };
  const b = { id: "beta", token: fakeToken(421) };
  const prefix = uniquePrefix();
  const keys = createKeys(prefix);
  const texts = (token: string): string[] => fx.fake.sent(token).map((s) => s.text);

  it("keeps a plugin's state per bot, commits it with the update (also when the app throws after writing), and refuses a write after the update", async () => {
    const fake = await fx.startFake();
    fake.addBot(a.token);
    fake.addBot(b.token);
    const { lines } = await fx.start(
      buildYaml({ apiRoot: fake.apiRoot, ...(kind === "redis" ? { redisUrl, prefix } : {}), app: fixture("notes-app.js"), bots: [a, b] }),
    );
    fake.inject(a.token, command(55, "note", "one"));
    fake.inject(b.token, command(55, "note", "uno"));
    await fake.waitFor(() => texts(a.token).length === 1 && texts(b.token).length === 1);
    fake.inject(a.token, command(55, "fail", "two"));
    fake.inject(a.token, command(55, "note", "three"));
    fake.inject(b.token, command(55, "note", "dos"));
    await fake.waitFor(() => texts(a.token).length === 2 && texts(b.token).length === 2);
    expect(texts(a.token)).toEqual(["alpha:one", "alpha:one,two,three"]);
    expect(texts(b.token)).toEqual(["beta:uno", "beta:uno,dos"]);
    if (kind === "redis") {
      const redis = new Redis(redisUrl);
      const stored = (await redis.keys(`${prefix}plugin:*`)).sort();
      const alpha = await redis.get(keys.plugin("notes", a.id, "55"));
      redis.disconnect();
      expect(stored).toEqual([keys.plugin("notes", a.id, "55"), keys.plugin("notes", b.id, "55")]);
      expect(JSON.parse(alpha ?? "null")).toEqual(["one", "two", "three"]);
    }

    fake.inject(a.token, command(55, "late"));
    fake.inject(a.token, command(55, "release"));
    const refused = await waitForLine(lines, (l) => l.msg === "late write refused" || l.msg === "late write accepted");
    expect(refused).toMatchObject({ msg: "late write refused", code: ErrorCodes.PLUGIN_STATE_OUTSIDE_UPDATE, bot: "alpha" });
  });

  it("is a clear error outside the handling of an update", async () => {
    const storage = pluginStorage<string[]>("notes");
    await expect(async () => storage.read("55")).rejects.toMatchObject({ code: ErrorCodes.PLUGIN_STATE_OUTSIDE_UPDATE });
    expect(() => storage.write("55", [])).toThrow(/outside the handling of an update/);
    expect(() => pluginStorage("no:colons")).toThrow(/namespace/);
  });
});

async function waitForLine(lines: LogLine[], pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = lines.find(pred);
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error("log line not seen");
    await new Promise((r) => setTimeout(r, 10));
  }
}
