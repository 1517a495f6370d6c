// The world every benchmark runs against, all on 127.0.0.1: the fake Bot API (in this process) with a cheap
// reply meter, and a throw-away redis-server (test/support/redis-server.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { Redis } from "ioredis";
import { LocalBotApi } from "../../dist/src/local-api/index.js";
import { ROOT, sleep } from "./common.mjs";

/**
 * `startRedisServer()` of test/support/redis-server.ts. That file only imports node: builtins, so it is
 * transpiled (TypeScript is a dev dependency) and imported from a data: URL: no copy, no loader, no build step.
 */
export async function startRedis() {
  const source = readFileSync(join(ROOT, "test/support/redis-server.ts"), "utf8");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const mod = await import(`data:text/javascript;base64,${Buffer.from(outputText).toString("base64")}`);
  const server = await mod.startRedisServer();
  const client = new Redis(server.url, { lazyConnect: true });
  await client.connect();
  return {
    url: server.url,
    /** redis-server's own CPU seconds (user + sys) so far, from INFO cpu. */
    async cpuSeconds() {
      const info = await client.info("cpu");
      const v = (k) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
      return v("used_cpu_user") + v("used_cpu_sys");
    },
    /**
     * Read events redis-server processed so far (INFO stats `total_reads_processed`): about one per socket write
     * of its clients, so it counts round trips, however many commands each carried.
     */
    async reads() {
      const info = await client.info("stats");
      return Number(/total_reads_processed:([0-9]+)/.exec(info)?.[1] ?? 0);
    },
    async stop() {
      client.disconnect();
      await server.stop();
    },
  };
}

/**
 * Counts replies and measures update-to-reply latency at the fake: every injected text starts with the
 * `performance.now()` of its injection, the bench app replies `<count>|<text>`, and the fake's sendMessage
 * (replaced for every bot, answering like the built-in one) reads the stamp back. A reply that starts with
 * `begin ` is counted apart (the app sends it when a handler starts, see bench/apps/echo-session.mjs).
 */
export class ReplyMeter {
  constructor() {
    this.index = new Map(); // token -> bot index
    this.replies = new Int32Array(0);
    this.total = 0;
    this.begins = 0;
    this.lastReplyAt = 0;
    this.lat = new Float64Array(1024);
    this.nLat = 0;
    this.messageId = 0;
  }

  track(tokens) {
    const base = this.replies.length;
    const next = new Int32Array(base + tokens.length);
    next.set(this.replies);
    this.replies = next;
    tokens.forEach((t, i) => this.index.set(t, base + i));
    return tokens.map((t) => this.index.get(t));
  }

  /** Starts a new latency sample set. */
  resetLatency() {
    this.nLat = 0;
  }

  /** Latencies (ms) since the last reset, ascending. */
  latencies() {
    return Float64Array.prototype.slice.call(this.lat, 0, this.nLat).sort();
  }

  onSend({ token, bot, params }) {
    const text = String(params.text ?? "");
    const now = performance.now();
    if (text.startsWith("begin ")) this.begins++;
    else {
      const i = this.index.get(token);
      if (i !== undefined) this.replies[i]++;
      this.total++;
      this.lastReplyAt = now;
      const stamp = parseFloat(text.slice(text.indexOf("|") + 1));
      if (Number.isFinite(stamp)) {
        if (this.nLat === this.lat.length) {
          const grown = new Float64Array(this.lat.length * 2);
          grown.set(this.lat);
          this.lat = grown;
        }
        this.lat[this.nLat++] = now - stamp;
      }
    }
    const chatId = Number(params.chat_id);
    return {
      message_id: ++this.messageId,
      from: { id: bot.id, is_bot: true, first_name: bot.first_name, username: bot.username },
      chat: { id: chatId, type: "private", first_name: `User ${chatId}` },
      date: Math.floor(Date.now() / 1000),
      text,
    };
  }
}

/** The fake Bot API with a {@link ReplyMeter} on sendMessage. */
export async function startFake() {
  const fake = await LocalBotApi.start({ record: false });
  const meter = new ReplyMeter();
  fake.setHandler("sendMessage", (call) => meter.onSend(call));
  return { fake, meter };
}

/** Adds the bots to the fake and the meter; returns their meter indexes. */
export function addBots({ fake, meter }, tokens) {
  for (const t of tokens) fake.addBot(t);
  return meter.track(tokens);
}

const people = new Map();
/** A private text message from user `chatId` (chat and sender objects shared per chat, to keep big backlogs small). */
export function textUpdate(chatId, text) {
  let p = people.get(chatId);
  if (p === undefined) {
    const name = `User ${chatId}`;
    p = {
      chat: { id: chatId, type: "private", first_name: name },
      from: { id: chatId, is_bot: false, first_name: name, language_code: "en" },
      id: 0,
    };
    people.set(chatId, p);
  }
  return { message: { message_id: ++p.id, from: p.from, chat: p.chat, date: Math.floor(Date.now() / 1000), text } };
}

/** Resolves once every token has a getUpdates call at the fake; returns the ms it took from `since`. */
export async function waitAllPolling(fake, tokens, since = performance.now(), timeoutMs = 60_000) {
  for (;;) {
    if (tokens.every((t) => fake.callCount(t, "getUpdates") > 0)) return performance.now() - since;
    if (performance.now() - since > timeoutMs) throw new Error(`not every bot polled within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** Resolves once `predicate()` holds (checked every `everyMs`); rejects after `timeoutMs`. */
export async function until(predicate, timeoutMs, what, everyMs = 5) {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`${what}: not reached within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(everyMs);
  }
}

/**
 * Confirms everything still queued for a bot (getUpdates with offset -1 keeps only the newest), so a stopped
 * side's leftover backlog does not stay in this process' memory.
 */
export async function dropPending(fake, token) {
  await fetch(`${fake.apiRoot}/bot${token}/getUpdates?offset=-1&limit=1&timeout=0`).then((r) => r.arrayBuffer());
}
