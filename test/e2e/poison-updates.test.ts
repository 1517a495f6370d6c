import { afterEach, describe, expect, inject, it } from "vitest";
import { CliProcess, runCli } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { MessageStream } from "../support/message-stream.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix, waitUntil, writeConfig, type LogLine } from "../support/harness.js";
import { Supervisor } from "../support/supervisor.js";
import { message } from "../support/updates.js";

const redisUrl = inject("redisUrl");
const allUp = (l: LogLine): boolean => l.msg === "all bots are up";
const setAside = (l: LogLine): boolean => l.code === "BOT_HOST_UPDATE_SET_ASIDE";
const crashed = (l: LogLine): boolean => typeof l.msg === "string" && l.msg.startsWith("uncaught exception");

describe("an update the app cannot get past", () => {
  let fake: LocalBotApi | undefined;
  let supervisor: Supervisor | undefined;
  let cli: CliProcess | undefined;
  afterEach(async () => {
    await supervisor?.stop().catch(() => undefined);
    cli?.kill("SIGKILL");
    supervisor = undefined;
    cli = undefined;
    await fake?.stop();
  });

  it("under a restart-on-exit supervisor: the crash loop ends after max_attempts starts, everything else is answered once; list, retry, drop", async () => {
    fake = await LocalBotApi.start();
    const bots = [1, 2, 3].map((n) => ({ id: `p${n}`, token: fakeToken(240 + n) }));
    for (const b of bots) fake.addBot(b.token);
    const prefix = uniquePrefix();
    const path = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots, extra: "shutdown:\n  drain_timeout: 2" }));
    supervisor = new Supervisor(["start", "--config", path]);
    await supervisor.current.waitForLog(allUp);
    const stream = new MessageStream(fake, bots, 4, { firstChat: 700, label: "n" });
    stream.start(30);
    await stream.progress(20);

    // The bug: this message makes its handler throw from a timer, mid-update. The next message of its chat waits
    // behind it.
    const POISON_CHAT = 950;
    const poisonId = fake.inject(bots[0]!.token, message(POISON_CHAT, "poison crash"));
    fake.inject(bots[0]!.token, message(POISON_CHAT, "after-poison"));
    await waitUntil(() => supervisor!.lines().some(setAside), "the poison update set aside", 180_000);
    // max_attempts (3) starts crashed on it; the next start set it aside before running it.
    expect(supervisor.lines().filter(crashed)).toHaveLength(3);
    expect(supervisor.exits).toEqual([1, 1, 1]);
    const letter = supervisor.lines().find(setAside)!;
    expect(letter).toMatchObject({ bot: "p1", update_id: poisonId, reason: "crashed", attempts: 3 });
    expect(String(letter.error)).toContain("crash from a timer (poison)");
    await supervisor.current.waitForLog(allUp, 30_000);
    await stream.progress(30);
    stream.stop();
    await stream.allAnswered(60_000);
    await fake.waitFor(() => fake!.sent(bots[0]!.token).some((s) => s.text.endsWith("|after-poison")), 30_000, "after-poison");
    // Every normal update of every bot answered exactly once, the poisoned chat's later message included.
    const answers = stream.answers();
    for (const label of [...stream.labels, "after-poison"]) expect(answers.get(label), label).toBe(1);
    await expectSessionCounts(redisUrl, prefix, stream.perChat);

    // The operator's view.
    const list = await runCli(["dead-letters", "--config", path]);
    expect(list.code).toBe(0);
    const row = list.stdout.split("\n").find((l) => l.startsWith("p1 "));
    expect(row).toBeDefined();
    expect(row!.split(/\s{2,}/).slice(0, 6)).toEqual(["p1", String(poisonId), String(POISON_CHAT), "message", "crashed", "3"]);
    expect(row).toContain("uncaught exception: Error: crash from a timer (poison)");
    expect((await runCli(["dead-letters", "--config", path, "--bot", "p2"])).stdout).toBe("no dead letters\n");
    expect(JSON.parse(await (await fetch(readyzOf(supervisor.current))).text())).toMatchObject({
      ready: true,
      bots: { p1: { dead_letters: 1 } },
    });

    // retry: the owner runs it once more at once; it crashes the host again, and the next start sets it aside again.
    const starts = supervisor.runs.length;
    const retried = await runCli(["dead-letters", "retry", "p1", String(poisonId), "--config", path]);
    expect(retried).toMatchObject({ code: 0, stdout: expect.stringContaining("its owner runs it once more now") });
    await waitUntil(
      () => supervisor!.runs.length > starts && supervisor!.runs.slice(starts).some((r) => r.lines.some(setAside)),
      "set aside again",
      60_000,
    );
    expect(supervisor.exits).toEqual([1, 1, 1, 1]);
    expect((await runCli(["dead-letters", "--config", path])).stdout).toContain(`p1   ${poisonId}`);

    // drop: gone for good.
    const dropped = await runCli(["dead-letters", "drop", "p1", String(poisonId), "--config", path]);
    expect(dropped).toMatchObject({ code: 0, stdout: "dropped 1 dead letter(s) of bot p1\n" });
    expect((await runCli(["dead-letters", "--config", path])).stdout).toBe("no dead letters\n");
    expect(await supervisor.stop()).toBe(0);
  }, 300_000);

  it("a handler that never resolves: its chat's next message is answered within handler_timeout + 2 s, a late reply is refused, SIGTERM exits 0 at once", async () => {
    fake = await LocalBotApi.start();
    const bot = { id: "h1", token: fakeToken(250) };
    fake.addBot(bot.token);
    const extra = "updates:\n  handler_timeout: 2\nshutdown:\n  drain_timeout: 8";
    const path = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix: uniquePrefix(), bots: [bot], extra }));
    cli = new CliProcess(["start", "--config", path]);
    await cli.waitForLog(allUp);
    const t0 = Date.now();
    fake.inject(bot.token, message(31, "stuck hang"));
    fake.inject(bot.token, message(31, "next"));
    fake.inject(bot.token, message(32, "slow late=4000"));
    await fake.waitFor(() => fake!.sent(bot.token).some((s) => s.text.endsWith("|next")), 10_000, "next answered");
    const next = fake.sent(bot.token).find((s) => s.text.endsWith("|next"))!;
    expect(next.at - t0).toBeLessThanOrEqual(2_000 + 2_000);
    await cli.waitForLog((l) => l.msg === "a handler set aside after its timeout failed later");
    expect(cli.lines.filter(setAside).map((l) => l.reason)).toEqual(["timeout", "timeout"]);
    expect(fake.calls(bot.token).some((c) => String(c.params.text).startsWith("late|"))).toBe(false);
    const t1 = Date.now();
    cli.kill("SIGTERM");
    expect(await cli.exitCode()).toBe(0);
    expect(Date.now() - t1).toBeLessThan(8_000);
    expect(cli.lines.find((l) => l.msg === "shutdown step 2/5: drained")).toMatchObject({ updates: 0 });
  }, 60_000);
});

/** The `/readyz` URL of a running CLI (from its "HTTP server listening" line). */
function readyzOf(p: CliProcess): string {
  const l = p.lines.find((x) => x.msg === "HTTP server listening")!;
  return `http://127.0.0.1:${String(l.port)}/readyz`;
}
