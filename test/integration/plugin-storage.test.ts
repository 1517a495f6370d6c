import { Redis } from "ioredis";
import { afterEach, describe, expect, inject, it } from "vitest";
import { FakeBotApi } from "../support/fake-bot-api.js";
import { command } from "../support/updates.js";
import { buildYaml, fakeToken, fixture, startHost, uniquePrefix, type LogLine } from "../support/harness.js";
import { pluginStorage } from "../../src/index.js";
import { ErrorCodes } from "../../src/errors.js";
import type { Host } from "../../src/host.js";

const redisUrl = inject("redisUrl");

describe.each(["redis", "memory"] as const)("pluginStorage under two bots, %s store", (kind) => {
  let fake: FakeBotApi;
  let host: Host | undefined;
  let lines: LogLine[] = [];
  const a = { id: "alpha", token: fakeToken(420) };
  const b = { id: "beta", token: fakeToken(421) };
  const prefix = uniquePrefix();
  const texts = (token: string): string[] => fake.sent(token).map((s) => s.text);

  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await fake?.stop();
  });

  it("keeps a plugin's state per bot, commits it with the update (also when the app throws after writing), and refuses a write after the update", async () => {
    fake = await FakeBotApi.start();
    fake.addBot(a.token);
    fake.addBot(b.token);
    ({ host, lines } = await startHost(
      buildYaml({ apiRoot: fake.apiRoot, ...(kind === "redis" ? { redisUrl, prefix } : {}), app: fixture("notes-app.js"), bots: [a, b] }),
    ));
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
      const keys = (await redis.keys(`${prefix}plugin:*`)).sort();
      const alpha = await redis.get(`${prefix}plugin:notes:{alpha}:55`);
      redis.disconnect();
      expect(keys).toEqual([`${prefix}plugin:notes:{alpha}:55`, `${prefix}plugin:notes:{beta}:55`]);
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
