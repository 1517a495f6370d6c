import { afterEach, describe, expect, inject, it } from "vitest";
import { CliProcess, owns } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { MessageStream } from "../support/message-stream.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";
import { TcpProxy } from "../support/tcp-proxy.js";

const redisUrl = inject("redisUrl");
const TTL_S = 5; // buildYaml's lease TTL
const THRESHOLD_S = 2 * TTL_S; // calls failing this long: the instance hands its bots over

/**
 * Checks every label was answered exactly once, except a reply that was on its way when the link was cut and whose
 * answer the cut lost (the sender cannot know it arrived): such a label may be answered once more. Its first reply
 * reached the Bot API before the instance noticed the cut (`noticedAt`, its log line): nothing else crosses the
 * cut link.
 */
function expectOnce(fake: LocalBotApi, stream: MessageStream, bots: ReadonlyArray<{ token: string }>, noticedAt: number): void {
  const first = new Map<string, number>();
  for (const b of bots) {
    for (const s of fake.sent(b.token)) {
      const label = s.text.split("|")[3];
      if (label !== undefined && !first.has(label)) first.set(label, s.at);
    }
  }
  const answers = stream.answers();
  const twice = stream.labels.filter((l) => (answers.get(l) ?? 0) !== 1);
  for (const label of twice) {
    expect(answers.get(label), label).toBe(2);
    expect(first.get(label)!, `${label}: a repeat whose first reply was on its way at the cut`).toBeLessThanOrEqual(noticedAt);
  }
  expect(twice.length).toBeLessThanOrEqual(bots.length * 2);
}

/** When the instance logged that it cannot reach the Bot API. */
function noticed(p: CliProcess): number {
  return Number(p.lines.find((l) => l.msg?.startsWith("this instance cannot reach the Bot API") === true)!.time);
}

async function readyz(p: CliProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const port = p.lines.find((l: LogLine) => l.msg === "HTTP server listening")!.port;
  const res = await fetch(`http://127.0.0.1:${String(port)}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("an instance that cannot reach Telegram (its Bot API traffic cut, its Redis fine)", () => {
  let fake: LocalBotApi | undefined;
  let proxy: TcpProxy | undefined;
  const clis: CliProcess[] = [];
  afterEach(async () => {
    proxy?.heal();
    for (const c of clis.splice(0)) {
      c.kill("SIGTERM");
      await c.exitCode().catch(() => undefined);
    }
    await proxy?.stop();
    await fake?.stop();
  });

  /** bots.yaml with `api_root` from the environment, so each instance can have its own path to the Bot API. */
  async function setup(n: number, first: number): Promise<{ bots: Array<{ id: string; token: string }>; path: string; prefix: string }> {
    fake = await LocalBotApi.start();
    proxy = await TcpProxy.start(Number(new URL(fake.apiRoot).port));
    const bots = Array.from({ length: n }, (_, i) => ({ id: `u${i + 1}`, token: fakeToken(first + i) }));
    for (const b of bots) fake.addBot(b.token);
    const prefix = uniquePrefix();
    return { bots, prefix, path: writeConfig(buildYaml({ apiRoot: "${BOT_API_ROOT}", redisUrl, prefix, bots })) };
  }

  it("hands its bots to the instance that can within the threshold + the TTL, takes its share back after the cut heals; nothing lost or repeated", async () => {
    const { bots, path, prefix } = await setup(6, 280);
    const a = new CliProcess(["start", "--config", path], { BOT_API_ROOT: proxy!.url });
    clis.push(a);
    await a.waitForLog((l) => l.msg === "all bots are up");
    const b = new CliProcess(["start", "--config", path], { BOT_API_ROOT: fake!.apiRoot });
    clis.push(b);
    await fake!.waitFor(() => owns(a).length === 3 && owns(b).length === 3, 30_000, "an even share");
    const stream = new MessageStream(fake!, bots, 2, { firstChat: 400, label: "u" });
    stream.start(30);
    await stream.progress(30);

    const cutAt = Date.now();
    const cutBots = owns(a);
    proxy!.cut();
    await fake!.waitFor(() => owns(b).length === 6, 30_000, "the instance that reaches Telegram owns every bot");
    // every bot A had answers again, from B, within the threshold + the TTL of the cut
    await fake!.waitFor(
      () => cutBots.every((id) => fake!.sent(bots.find((x) => x.id === id)!.token).some((s) => s.at > cutAt + 100)),
      30_000,
      "A's bots answering again",
    );
    const back = Math.max(
      ...cutBots.map((id) => fake!.sent(bots.find((x) => x.id === id)!.token).find((s) => s.at > cutAt + 100)!.at - cutAt),
    );
    console.log(`Bot API cut: A's bots answered again after ${back} ms (threshold ${THRESHOLD_S} s + TTL ${TTL_S} s)`);
    expect(back).toBeLessThanOrEqual((THRESHOLD_S + TTL_S) * 1000);
    expect(a.lines.filter((l) => l.msg?.startsWith("this instance cannot reach the Bot API"))).toHaveLength(1);
    const cutView = await readyz(a);
    expect(cutView.status).toBe(503);
    expect(cutView.body).toMatchObject({ ready: false, leases: { cut_off: true, owned: [] } });
    expect(((cutView.body.leases as { given_up: string[] }).given_up ?? []).sort()).toEqual(cutBots);

    proxy!.heal();
    await a.waitForLog((l) => l.msg === "this instance reaches the Bot API again: it takes its share of the bots again", 30_000);
    await fake!.waitFor(() => owns(a).length === 3 && owns(b).length === 3, 30_000, "an even share again");
    await stream.progress(30);
    stream.stop();
    await stream.allAnswered(30_000);
    expectOnce(fake!, stream, bots, noticed(a));
    await expectSessionCounts(redisUrl, prefix, stream.perChat);
    expect((await readyz(a)).body).toMatchObject({ ready: true, leases: { cut_off: false, given_up: [] } });
  }, 120_000);

  it("alone, it keeps its bots through the cut and answers everything once it heals", async () => {
    const { bots, path, prefix } = await setup(2, 290);
    const a = new CliProcess(["start", "--config", path], { BOT_API_ROOT: proxy!.url });
    clis.push(a);
    await a.waitForLog((l) => l.msg === "all bots are up");
    const stream = new MessageStream(fake!, bots, 2, { firstChat: 450, label: "w" });
    stream.start(50);
    await stream.progress(10);
    proxy!.cut();
    await a.waitForLog((l) => l.msg?.startsWith("this instance cannot reach the Bot API") === true, (THRESHOLD_S + 10) * 1000);
    expect(a.lines.find((l) => l.msg?.startsWith("this instance cannot reach the Bot API"))?.msg).toContain("keeping them");
    proxy!.heal();
    await stream.progress(10, 30_000);
    stream.stop();
    await stream.allAnswered(30_000);
    expect(owns(a)).toEqual(bots.map((x) => x.id).sort());
    expect(a.lines.filter((l) => l.msg === "handed this bot over: drained, offset confirmed, lease released")).toEqual([]);
    expectOnce(fake!, stream, bots, noticed(a));
    await expectSessionCounts(redisUrl, prefix, stream.perChat);
  }, 90_000);
});
