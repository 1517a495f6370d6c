import { afterEach, describe, expect, inject, it } from "vitest";
import { CliProcess, runCli } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { buildYaml, fakeToken, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";
import { message } from "../support/updates.js";

const redisUrl = inject("redisUrl");
const allUp = (l: LogLine): boolean => l.msg === "all bots are up";
// Telegram's limits on: the throttle paces replies and campaigns alike, and the local Bot API enforces them.
const LIMITS = "limits:\n  outgoing: { enabled: true }";

/** Private chats `first` .. `first + n - 1` write to the bot, so they are its audience; waits for the replies. */
async function audience(fake: LocalBotApi, token: string, first: number, n: number): Promise<number[]> {
  const chats = Array.from({ length: n }, (_, i) => first + i);
  const before = fake.sent(token).length;
  for (const c of chats) fake.inject(token, message(c, `hello${c}`));
  await fake.waitForSent(token, before + n, 60_000);
  return chats;
}

/** How often each chat got `text`. */
function received(fake: LocalBotApi, token: string, text: string): Map<number, number> {
  const got = new Map<number, number>();
  for (const s of fake.sent(token)) if (s.text === text) got.set(Number(s.chat_id), (got.get(Number(s.chat_id)) ?? 0) + 1);
  return got;
}

const quantile = (xs: readonly number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

/**
 * Sends one message to each of `chats`, one every `everyMs` (each chat once: its own limit of one message a second
 * does not count), and resolves with each one's reply latency (ms).
 */
async function paced(fake: LocalBotApi, token: string, chats: readonly number[], everyMs: number, label: string): Promise<number[]> {
  const latencies: number[] = [];
  for (const [i, chat] of chats.entries()) {
    const at = Date.now();
    const name = `${label}${i}`;
    fake.inject(token, message(chat, name));
    await fake.waitFor(() => fake.sent(token).some((s) => s.text.endsWith(`|${name}`)), 30_000, name);
    latencies.push(fake.sent(token).find((s) => s.text.endsWith(`|${name}`))!.at - at);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return latencies;
}

describe("bot-host broadcast (real CLI, the local Bot API enforcing Telegram's limits)", () => {
  let fake: LocalBotApi | undefined;
  const clis: CliProcess[] = [];
  afterEach(async () => {
    for (const c of clis.splice(0)) {
      c.kill("SIGTERM");
      await c.exitCode().catch(() => undefined);
    }
    await fake?.stop();
  });

  it("reaches each of a bot's 198 reachable users once and nobody of the other bot, with no 429 and replies at their usual pace; a second campaign skips the blocked", async () => {
    fake = await LocalBotApi.start({ limits: true });
    const a = { id: "news", token: fakeToken(310) };
    const b = { id: "shop", token: fakeToken(311) };
    for (const bot of [a, b]) fake.addBot(bot.token);
    const path = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix: uniquePrefix(), bots: [a, b], limits: LIMITS }));
    const host = new CliProcess(["start", "--config", path]);
    clis.push(host);
    await host.waitForLog(allUp);
    const aUsers = await audience(fake, a.token, 10_000, 200);
    const bUsers = await audience(fake, b.token, 20_000, 50);
    const blocked = [aUsers[3]!, aUsers[150]!];
    for (const c of blocked) fake.blockBot(a.token, c);

    // Interactive messages come from users of the audience (a new chat would join it and change the count).
    const quiet = await paced(fake, a.token, aUsers.slice(20, 40), 200, "q");
    const campaign = runCli(["broadcast", "--config", path, "--bot", "news", "--text", "Big news!"]);
    await fake.waitFor(() => received(fake!, a.token, "Big news!").size >= 20, 30_000, "the campaign under way");
    const busy = await paced(fake, a.token, aUsers.slice(40, 60), 200, "w");
    const done = await campaign;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain("campaign c");
    expect(done.stdout).toMatch(/finished: sent 198, blocked 2, failed 0 of 200/);

    const got = received(fake, a.token, "Big news!");
    expect([...got.keys()].sort((x, y) => x - y)).toEqual(aUsers.filter((c) => !blocked.includes(c)));
    expect([...got.values()].every((n) => n === 1)).toBe(true);
    expect(received(fake, b.token, "Big news!").size).toBe(0);
    expect(fake.tooManyRequests(a.token)).toBe(0);
    expect(fake.tooManyRequests(b.token)).toBe(0);
    console.log(
      `interactive reply latency, 20 paced messages: without a campaign p50 ${quantile(quiet, 0.5)} ms, p99 ${quantile(quiet, 0.99)} ms; ` +
        `during a 200-recipient campaign at 20/s p50 ${quantile(busy, 0.5)} ms, p99 ${quantile(busy, 0.99)} ms`,
    );
    // A reply never queues behind the campaign (that would be seconds: 200 messages at 20 per second). It can
    // wait for its own chat's limit of one message a second, when the campaign's message just went to that chat.
    expect(quantile(busy, 0.5)).toBeLessThan(quantile(quiet, 0.5) + 200);
    expect(Math.max(...busy)).toBeLessThan(1_500);
    expect(host.lines.filter((l) => l.msg === "broadcast started")).toHaveLength(1);
    expect(host.lines.find((l) => l.msg === "broadcast finished")).toMatchObject({ bot: "news", sent: 198, blocked: 2, failed: 0 });

    // The blocked users left the audience: the next campaign does not even call them.
    const callsToBlocked = (): number =>
      fake!.calls(a.token).filter((c) => c.method === "sendMessage" && blocked.includes(Number(c.params.chat_id))).length;
    const before = callsToBlocked();
    const second = await runCli(["broadcast", "--config", path, "--bot", "news", "--text", "More news"]);
    expect(second.stdout).toMatch(/finished: sent 198, blocked 0, failed 0 of 198/);
    expect(callsToBlocked()).toBe(before);
    expect(received(fake, b.token, "More news").size).toBe(0);
    expect(bUsers).toHaveLength(50);
  }, 180_000);

  it("a SIGKILL mid-campaign and a restart: the campaign finishes, each recipient has it once (a repeat only for a send in flight at the kill), and the following CLI reports the end", async () => {
    fake = await LocalBotApi.start({ limits: true });
    const a = { id: "news", token: fakeToken(320) };
    fake.addBot(a.token);
    const path = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix: uniquePrefix(), bots: [a], limits: LIMITS }));
    let host = new CliProcess(["start", "--config", path]);
    clis.push(host);
    await host.waitForLog(allUp);
    const users = await audience(fake, a.token, 30_000, 120);
    const follower = new CliProcess(["broadcast", "--config", path, "--bot", "news", "--text", "Survives a crash"]);
    clis.push(follower);
    await fake.waitFor(() => received(fake!, a.token, "Survives a crash").size >= 30, 30_000, "30 sent");
    host.kill("SIGKILL");
    await host.exited;
    host = new CliProcess(["start", "--config", path]);
    clis.push(host);
    expect(await follower.exitCode(90_000)).toBe(0);
    expect(follower.stdout).toMatch(/finished: sent 120, blocked 0, failed 0 of 120/);
    const got = received(fake, a.token, "Survives a crash");
    expect([...got.keys()].sort((x, y) => x - y)).toEqual(users);
    // At the default 20 messages per second, at most 2 sends are in flight: those alone may repeat.
    expect([...got.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(2);
    expect(host.lines.find((l) => l.msg === "broadcast started")).toMatchObject({ resumed: true });
  }, 180_000);

  it("with two instances sharing the bots, each bot's campaign runs on its owner only; --all covers every bot", async () => {
    fake = await LocalBotApi.start({ limits: true });
    const bots = [1, 2].map((n) => ({ id: `b${n}`, token: fakeToken(330 + n) }));
    for (const bot of bots) fake.addBot(bot.token);
    const path = writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix: uniquePrefix(), bots, limits: LIMITS }));
    const one = new CliProcess(["start", "--config", path]);
    clis.push(one);
    await one.waitForLog(allUp);
    const two = new CliProcess(["start", "--config", path]);
    clis.push(two);
    const took = (p: CliProcess): string[] =>
      p.lines.filter((l) => l.msg === "took the lease of this bot; starting it here").map((l) => String(l.bot));
    await fake.waitFor(
      () => took(two).length === 1 && one.lines.some((l) => l.msg?.startsWith("handed this bot over")),
      30_000,
      "one bot each",
    );
    const users = [await audience(fake, bots[0]!.token, 40_000, 30), await audience(fake, bots[1]!.token, 41_000, 30)];
    const r = await runCli(["broadcast", "--config", path, "--all", "--text", "To everyone"]);
    expect(r.stdout).toMatch(/finished: sent 60, blocked 0, failed 0 of 60/);
    bots.forEach((bot, i) => {
      const got = received(fake!, bot.token, "To everyone");
      expect([...got.keys()].sort((x, y) => x - y)).toEqual(users[i]);
      expect([...got.values()].every((n) => n === 1)).toBe(true);
    });
    const ranOn = (p: CliProcess): string[] => p.lines.filter((l) => l.msg === "broadcast started").map((l) => String(l.bot));
    const movedToTwo = took(two)[0]!;
    expect(ranOn(two)).toEqual([movedToTwo]);
    expect(ranOn(one)).toEqual(bots.map((b) => b.id).filter((id) => id !== movedToTwo));
  }, 120_000);
});
