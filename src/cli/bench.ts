import { randomBytes } from "node:crypto";
import { loadConfig, type Config } from "../config/index.js";
import { createLogger } from "../logging/logger.js";
import { ExitCodes } from "../errors.js";
import { Host } from "../host/host.js";
import { LocalBotApi } from "../local-api/local-bot-api.js";
import { message } from "../local-api/updates.js";
import { reportError } from "./print.js";

/** Options of `bot-host bench`. */
export interface BenchOptions {
  config: string;
  bots: number;
  updates: number;
  chats: number;
  /** Redis URL for state; in memory when absent (the bench never touches the configured Redis). */
  redis?: string;
}

/** Latency percentile `p` (0..1) of sorted `xs`. */
function percentile(xs: number[], p: number): number {
  return xs.length === 0 ? 0 : xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
}

/**
 * `bot-host bench`: runs the config's app on N simulated bots against an in-process fake Bot API, sends it
 * `updates` text messages over `chats` chats, and prints throughput, update-to-handled latency percentiles and
 * memory. Outgoing throttling is off (the fake has no limits); state is in memory unless `--redis` is given.
 */
export async function runBench(o: BenchOptions): Promise<number> {
  let user: Config;
  try {
    user = await loadConfig(o.config);
  } catch (err) {
    return reportError(err);
  }
  const fake = await LocalBotApi.start({ record: false });
  const tokens = Array.from({ length: o.bots }, (_, i) => `${900_000 + i}:BENCH${randomBytes(16).toString("hex")}`);
  for (const t of tokens) fake.addBot(t);
  const config: Config = {
    ...user,
    api_root: fake.apiRoot,
    redis:
      o.redis === undefined
        ? undefined
        : {
            target: { kind: "server", url: o.redis },
            url: o.redis,
            username: undefined,
            password: undefined,
            tls: false,
            min_replicas: 0,
            key_prefix: `bench:${randomBytes(4).toString("hex")}:`,
            session_ttl: 600,
          },
    http: { listen: false, max_sockets: 0, advertise_url: undefined },
    // One process with fresh keys: nothing to share.
    leases: { ...user.leases, enabled: false },
    polling: { ...user.polling, timeout: 1 },
    limits: { ...user.limits, outgoing: { ...user.limits.outgoing, enabled: false } },
    bots: tokens.map((token, i) => ({
      id: `bench${i}`,
      token,
      enabled: true,
      mode: "polling" as const,
      allowed_updates: undefined,
      webhook_secret: undefined,
      app_config: undefined,
      api_root: undefined,
      polling: undefined,
      limits: undefined,
      broadcast: undefined,
    })),
  };
  const injectedAt = new Map<string, number>();
  const latencies: number[] = [];
  let handled = 0;
  const host = new Host(config, createLogger({ level: "error" }), {
    observer: {
      updateHandled: (bot, _type, _outcome, _seconds, id) => {
        const t = injectedAt.get(`${bot}:${id}`);
        if (t !== undefined) latencies.push(performance.now() - t);
        handled++;
      },
    },
  });
  const tty = process.stderr.isTTY === true;
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  try {
    const report = await host.start();
    if (report.running.length !== o.bots) throw new Error(`only ${report.running.length} of ${o.bots} simulated bots started`);
    const t0 = performance.now();
    const perBot = Math.ceil(o.updates / o.bots);
    for (const [i, token] of tokens.entries()) {
      const bodies = Array.from({ length: Math.min(perBot, o.updates - i * perBot) }, (_, k) =>
        message(1 + ((i * perBot + k) % o.chats), `bench ${k}`),
      );
      const now = performance.now();
      fake.injectMany(token, bodies).forEach((id) => injectedAt.set(`bench${i}:${id}`, now));
    }
    while (handled < o.updates) {
      await new Promise((r) => setTimeout(r, 100));
      if (tty) {
        const done = Math.min(1, handled / o.updates);
        const bar = "#".repeat(Math.round(done * 30)).padEnd(30, ".");
        process.stderr.write(`\r[${bar}] ${Math.round(done * 100)}% ${handled}/${o.updates} updates`);
      }
      if (performance.now() - t0 > 600_000) throw new Error("the app did not handle every update within 10 minutes");
    }
    const seconds = (performance.now() - t0) / 1000;
    if (tty) process.stderr.write("\n");
    latencies.sort((a, b) => a - b);
    const sent = tokens.reduce((n, t) => n + fake.sentCount(t), 0);
    const mem = process.memoryUsage();
    const lines = [
      `app ${user.app} on ${o.bots} simulated bots, ${o.updates} updates over ${o.chats} chats, state ${o.redis === undefined ? "in memory" : "in Redis"}`,
      `throughput     ${Math.round(o.updates / seconds)} updates/s (${seconds.toFixed(2)} s)`,
      `latency        p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p90 ${percentile(latencies, 0.9).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms (injected to handled; every update is injected at once, so this is mostly queueing)`,
      `replies sent   ${sent}`,
      `memory         peak RSS ${(peakRss / 2 ** 20).toFixed(1)} MB, heap used ${(mem.heapUsed / 2 ** 20).toFixed(1)} MB (host and fake Bot API in this process)`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return ExitCodes.OK;
  } catch (err) {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    return ExitCodes.RUNTIME;
  } finally {
    clearInterval(sampler);
    await host.stop(10_000).catch(() => undefined);
    await fake.stop();
  }
}
