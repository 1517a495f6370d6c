import { Redis } from "ioredis";
import { afterEach, describe, expect, inject, it } from "vitest";
import { CliProcess } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { MessageStream } from "../support/message-stream.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";
import { message } from "../support/updates.js";
import { createKeys } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");
const allUp = (l: LogLine): boolean => l.msg === "all bots are up";

describe("SIGKILL of the only instance and an immediate restart (same host, default leases)", () => {
  let fake: LocalBotApi | undefined;
  let cli: CliProcess | undefined;
  let redis: Redis | undefined;
  afterEach(async () => {
    cli?.kill("SIGTERM");
    await cli?.exitCode().catch(() => undefined);
    cli = undefined;
    redis?.disconnect();
    await fake?.stop();
  });

  it("every bot answers again without waiting out the old leases, three times in a row; nothing lost, repeats only mid-handler", async () => {
    fake = await LocalBotApi.start();
    const bots = [1, 2, 3].map((n) => ({ id: `k${n}`, token: fakeToken(270 + n) }));
    for (const b of bots) fake.addBot(b.token);
    const prefix = uniquePrefix();
    const keys = createKeys(prefix);
    redis = new Redis(redisUrl);
    // The defaults: leases on with Redis, a 10 s TTL that a restart would otherwise wait out.
    const path = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots, leases: "leases:\n  balance: true" }));
    cli = new CliProcess(["start", "--config", path]);
    await cli.waitForLog(allUp);
    const stream = new MessageStream(fake, bots, 3, { firstChat: 500, label: "c" });
    stream.start(25);
    const midHandler = new Set<string>();
    const waits: number[] = [];
    for (let round = 1; round <= 3; round++) {
      await stream.progress(30);
      cli.kill("SIGKILL");
      await cli.exited;
      // What the killed process had journaled and not finished may be answered twice (it was mid-handler).
      for (const b of bots) {
        for (const raw of await redis.hvals(keys.journal(b.id)))
          midHandler.add((JSON.parse(raw) as { message: { text: string } }).message.text);
      }
      const spawned = Date.now();
      cli = new CliProcess(["start", "--config", path]);
      const probes = bots.map((b) => ({ bot: b, label: `probe${round}-${b.id}` }));
      for (const p of probes) fake.inject(p.bot.token, message(900, p.label));
      await fake.waitFor(
        () => probes.every((p) => fake!.sent(p.bot.token).some((s) => s.text.endsWith(`|${p.label}`))),
        20_000,
        "every bot answering after the restart",
      );
      const firstAnswer = Math.max(...probes.map((p) => fake!.sent(p.bot.token).find((s) => s.text.endsWith(`|${p.label}`))!.at));
      waits.push(firstAnswer - spawned);
      expect(cli.lines.filter((l) => l.msg === "took this bot's lease over from an earlier process of this instance")).toHaveLength(3);
    }
    stream.stop();
    await stream.allAnswered(30_000);
    console.log(`restart after SIGKILL, spawn -> every bot answered: ${waits.join(", ")} ms`);
    // The new process took its predecessor's leases over (asserted above) instead of waiting them out: well
    // inside the 10 s TTL however busy the machine is. (On a quiet machine it is about half a second: the
    // figure is measured by bench/leases.mjs.)
    for (const w of waits) expect(w).toBeLessThan(10_000);
    const answers = stream.answers();
    for (const label of stream.labels) {
      if (midHandler.has(label)) expect(answers.get(label), label).toBeGreaterThanOrEqual(1);
      else expect(answers.get(label), label).toBe(1);
    }
    await expectSessionCounts(redisUrl, prefix, stream.perChat);
  }, 120_000);
});
