import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { Redis } from "ioredis";
import { CliProcess, owns } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { MessageStream } from "../support/message-stream.js";
import { buildYaml, expectSessionCounts, fakeToken, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";
import { createKeys, type KeyBuilder } from "../../src/storage/keys.js";

const redisUrl = inject("redisUrl");
const TTL_S = 5;

/** A round-robin load balancer in front of the instances' HTTP servers, as Telegram's webhooks would meet one. */
class LoadBalancer {
  readonly backends: number[] = [];
  private server: Server | undefined;
  private next = 0;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const port = this.backends[this.next++ % Math.max(1, this.backends.length)];
        if (port === undefined) return void res.writeHead(502).end();
        const headers = Object.fromEntries(
          Object.entries(req.headers).filter(([k]) => k.startsWith("x-") || k === "content-type"),
        ) as Record<string, string>;
        fetch(`http://127.0.0.1:${port}${req.url ?? "/"}`, { method: req.method ?? "POST", headers, body: Buffer.concat(chunks) })
          .then(async (r) => res.writeHead(r.status).end(Buffer.from(await r.arrayBuffer())))
          .catch(() => res.writeHead(502).end());
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

const tookLease =
  (bot: string) =>
  (l: LogLine): boolean =>
    l.msg === "took the lease of this bot; starting it here" && l.bot === bot;
describe("several instances share the bots through Redis leases (real CLI, real signals)", () => {
  let fake: LocalBotApi;
  let procs: CliProcess[] = [];
  let redis: Redis;
  let prefix: string;
  let keys: KeyBuilder;

  beforeEach(async () => {
    fake = await LocalBotApi.start();
    prefix = uniquePrefix();
    keys = createKeys(prefix);
    redis = new Redis(redisUrl);
  });

  afterEach(async () => {
    for (const p of procs) {
      p.kill("SIGCONT");
      p.kill("SIGKILL");
    }
    procs = [];
    await fake.stop();
    redis.disconnect();
  });

  const setup = (count: number, firstToken = 600): { bots: Array<{ id: string; token: string }>; config: string } => {
    const bots = Array.from({ length: count }, (_, i) => ({ id: `L${i + 1}`, token: fakeToken(firstToken + i) }));
    for (const b of bots) fake.addBot(b.token);
    return { bots, config: writeConfig(buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots, leases: `leases:\n  ttl: ${TTL_S}` })) };
  };
  const start = (config: string): CliProcess => {
    const p = new CliProcess(["start", "--config", config]);
    procs.push(p);
    return p;
  };
  const waitOwned = async (p: CliProcess, n: number, timeoutMs = 20_000): Promise<void> => {
    const t0 = Date.now();
    while (owns(p).length !== n) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`instance owns ${owns(p).join(",")} (wanted ${n})\n${p.stdout.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const conflicts = (bots: ReadonlyArray<{ token: string }>): number =>
    bots.reduce((n, b) => n + fake.calls(b.token).filter((c) => c.method === "getUpdates" && c.status === 409).length, 0);

  it("three rolling deploys under load: nothing lost, nothing answered twice, sessions exact, no long gap", async () => {
    const { bots, config } = setup(4);
    const stream = new MessageStream(fake, bots, 10);
    let old = start(config);
    await old.waitForLog((l) => l.msg === "all bots are up");
    stream.start();
    for (let deploy = 0; deploy < 3; deploy++) {
      const next = start(config);
      // overlap: the new instance takes its share (2 of 4) by graceful handover, then the old one stops
      await waitOwned(next, 2);
      await waitOwned(old, 2);
      await stream.progress(60);
      old.kill("SIGTERM");
      expect(await old.exitCode()).toBe(0);
      await waitOwned(next, 4);
      old = next;
    }
    stream.stop();
    await stream.allAnswered();
    old.kill("SIGTERM");
    expect(await old.exitCode()).toBe(0);

    const answers = stream.answers();
    expect(stream.labels.length).toBeGreaterThan(100);
    expect(stream.labels.filter((l) => (answers.get(l) ?? 0) !== 1)).toEqual([]);
    await expectSessionCounts(redisUrl, prefix, stream.perChat);
    console.log(`rolling deploys: longest reply gap ${stream.longestGap()} ms`);
    expect(stream.longestGap()).toBeLessThan(5_000);
    expect(conflicts(bots)).toBeLessThanOrEqual(12);
  }, 120_000);

  it("SIGKILL of one of two instances: the other takes its bots within the TTL; the only repeats were mid-handler", async () => {
    const { bots, config } = setup(4, 620);
    const stream = new MessageStream(fake, bots, 6);
    const a = start(config);
    await a.waitForLog((l) => l.msg === "all bots are up");
    const b = start(config);
    await waitOwned(b, 2);
    await waitOwned(a, 2);
    stream.start();
    await fake.waitFor(() => stream.answers().size >= 40, 15_000);
    const victims = owns(a);
    a.kill("SIGKILL");
    await a.exitCode();
    const killedAt = Date.now();
    // what was fetched and not finished at the kill: the only updates whose replies may repeat
    const midHandler = new Set<string>();
    for (const id of victims) {
      for (const raw of await redis.hvals(keys.journal(id)))
        midHandler.add((JSON.parse(raw) as { message: { text: string } }).message.text);
    }
    for (const id of victims) await b.waitForLog(tookLease(id), (TTL_S + 10) * 1000);
    const takeoverMs = Date.now() - killedAt;
    await waitOwned(b, 4);
    stream.stop();
    await stream.allAnswered();
    b.kill("SIGTERM");
    expect(await b.exitCode()).toBe(0);

    expect(takeoverMs).toBeLessThan((TTL_S + 5) * 1000);
    const answers = stream.answers();
    expect(stream.labels.filter((l) => (answers.get(l) ?? 0) === 0)).toEqual([]);
    const repeated = stream.labels.filter((l) => (answers.get(l) ?? 0) > 1);
    expect(repeated.filter((l) => !midHandler.has(l))).toEqual([]);
    await expectSessionCounts(redisUrl, prefix, stream.perChat);
  }, 120_000);

  it("an owner paused past its TTL commits and confirms nothing for the bots it lost, and says so", async () => {
    const { bots, config } = setup(2, 640);
    const stream = new MessageStream(fake, bots, 4);
    const a = start(config);
    await a.waitForLog((l) => l.msg === "all bots are up");
    const b = start(config);
    await b.waitForLog((l) => typeof l.msg === "string" && l.msg.includes("owned by other instances"));
    stream.start();
    await fake.waitFor(() => stream.answers().size >= 20, 15_000);
    const victims = owns(a);
    expect(victims.length).toBe(1);
    a.kill("SIGSTOP");
    const paused = new Set<string>();
    for (const bot of bots) {
      for (const raw of await redis.hvals(keys.journal(bot.id)))
        paused.add((JSON.parse(raw) as { message: { text: string } }).message.text);
    }
    for (const id of victims) await b.waitForLog(tookLease(id), (TTL_S + 10) * 1000);
    await fake.waitFor(() => stream.answers().size >= stream.labels.length - 5, 15_000);
    a.kill("SIGCONT");
    for (const id of victims) {
      const lost = await a.waitForLog((l) => l.bot === id && typeof l.msg === "string" && l.msg.startsWith("lost the lease"));
      expect(lost).toMatchObject({ code: "BOT_HOST_LEASE_LOST" });
    }
    stream.stop();
    await stream.allAnswered();
    for (const p of [a, b]) p.kill("SIGTERM");
    expect(await a.exitCode()).toBe(0);
    expect(await b.exitCode()).toBe(0);

    // nothing A did after it woke reached Redis: every session counts every update once
    await expectSessionCounts(redisUrl, prefix, stream.perChat);
    const answers = stream.answers();
    expect(stream.labels.filter((l) => (answers.get(l) ?? 0) === 0)).toEqual([]);
    expect(stream.labels.filter((l) => (answers.get(l) ?? 0) > 1 && !paused.has(l))).toEqual([]);
    // A woke with its lease gone: between waking and taking a bot again (after B hands one back) it started,
    // confirmed and handed over nothing, and every write it tried was refused
    const woke = a.lines.findIndex((l) => typeof l.msg === "string" && l.msg.startsWith("lost the lease"));
    const retook = a.lines.findIndex((l, i) => i > woke && l.msg === "took the lease of this bot; starting it here");
    const between = a.lines.slice(woke, retook === -1 ? undefined : retook);
    expect(
      between.filter((l) => l.msg === "bot started" || l.msg === "handed this bot over: drained, offset confirmed, lease released"),
    ).toEqual([]);
  }, 120_000);

  it("webhook bots behind a load balancer: a non-owner passes each request to the owner; a rolling deploy loses and repeats nothing", async () => {
    const lb = new LoadBalancer();
    const base = await lb.start();
    try {
      const bots = [1, 2, 3, 4].map((n) => ({ id: `W${n}`, token: fakeToken(660 + n) }));
      for (const b of bots) fake.addBot(b.token);
      const config = writeConfig(
        buildYaml({
          apiRoot: fake.apiRoot,
          redisUrl,
          prefix,
          bots,
          leases: `leases:\n  ttl: ${TTL_S}`,
          extra: `mode: webhook\nwebhook:\n  public_url: ${base}`,
        }),
      );
      const portOf = async (p: CliProcess): Promise<number> => Number((await p.waitForLog((l) => l.msg === "HTTP server listening")).port);
      const stream = new MessageStream(fake, bots, 5);
      const a = start(config);
      lb.backends.push(await portOf(a));
      await a.waitForLog((l) => l.msg === "all bots are up");
      stream.start();
      const b = start(config);
      lb.backends.push(await portOf(b));
      await waitOwned(b, 2);
      await waitOwned(a, 2);
      await stream.progress(60);
      a.kill("SIGTERM");
      expect(await a.exitCode()).toBe(0);
      lb.backends.splice(0, 1);
      await waitOwned(b, 4);
      await stream.progress(40);
      stream.stop();
      await stream.allAnswered();
      b.kill("SIGTERM");
      expect(await b.exitCode()).toBe(0);

      const answers = stream.answers();
      expect(stream.labels.filter((l) => (answers.get(l) ?? 0) !== 1)).toEqual([]);
      await expectSessionCounts(redisUrl, prefix, stream.perChat);
      // Half the requests reach an instance that does not own their bot; passed to the owner, they are answered
      // 200 at the first attempt. Only the moments without an owner (handovers) cost Telegram a retry.
      const deliveries = bots.flatMap((x) => fake.deliveries(x.token));
      const failed = deliveries.filter((d) => d.status !== 200).length;
      expect(deliveries.length).toBeGreaterThan(100);
      expect(failed / deliveries.length).toBeLessThan(0.1);
      // one setWebhook per bot, by its first owner: a later owner finds the registration unchanged and calls nothing
      const taken = [a, b].flatMap((p) => p.lines.filter((l) => l.msg === "took the lease of this bot; starting it here")).length;
      expect(taken).toBeGreaterThan(bots.length);
      expect(bots.map((x) => fake.callCount(x.token, "setWebhook"))).toEqual(bots.map(() => 1));
      expect(bots.reduce((n, x) => n + fake.callCount(x.token, "getWebhookInfo") + fake.callCount(x.token, "getMe"), 0)).toBe(bots.length);
    } finally {
      await lb.stop();
    }
  }, 120_000);

  it("three instances and 30 bots settle balanced; stopping one rebalances with nothing lost", async () => {
    const { bots, config } = setup(30, 700);
    const stream = new MessageStream(fake, bots, 2);
    const a = start(config);
    await a.waitForLog((l) => l.msg === "all bots are up", 30_000);
    const b = start(config);
    const c = start(config);
    stream.start(20);
    await Promise.all([waitOwned(a, 10, 60_000), waitOwned(b, 10, 60_000), waitOwned(c, 10, 60_000)]);
    expect(new Set([...owns(a), ...owns(b), ...owns(c)]).size).toBe(30);
    c.kill("SIGTERM");
    expect(await c.exitCode()).toBe(0);
    await Promise.all([waitOwned(a, 15, 60_000), waitOwned(b, 15, 60_000)]);
    stream.stop();
    await stream.allAnswered(60_000);
    for (const p of [a, b]) p.kill("SIGTERM");
    expect(await a.exitCode(30_000)).toBe(0);
    expect(await b.exitCode(30_000)).toBe(0);
    const answers = stream.answers();
    expect(stream.labels.filter((l) => (answers.get(l) ?? 0) !== 1)).toEqual([]);
    await expectSessionCounts(redisUrl, prefix, stream.perChat);
  }, 180_000);
});
