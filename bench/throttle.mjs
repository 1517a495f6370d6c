// Outgoing throttle against Telegram's published limits, enforced by the fake Bot API (1 message/s per chat,
// 20/min per group, 30/s per bot; every 429 asks for retry_after 2 s, as in the issue that measured the old
// throttle). Each workload runs twice, each time in a fresh host process: with the host's default limits on, and
// with the outgoing throttle off (retries only). Printed per run: 429 answers, retry_after violations (calls in a
// chat inside its wait), replies delivered, the shortest gap between two messages of a chat at the fake, the
// time from injecting the messages to the last reply, and that time over the ideal pace: the earliest the last
// reply could arrive if every message went out the moment the limits allow (computed by the same rules).
//   node bench/throttle.mjs [--quick]
// Workloads (2 bots each; every update gets one reply; a chat's updates are handled one after another):
//   private  200 messages per bot over 10 private chats: the per-chat limit binds (ideal 19 s)
//   per-bot  600 messages per bot over 60 private chats: the per-bot limit binds (ideal 20 s)
//   group    48 messages per bot over 2 groups: the 20/min group limit binds (ideal 63 s; not with --quick)
import { LocalBotApi } from "../dist/src/local-api/index.js";
import { BENCH_APP, flags, fmt, freshPrefix, header, makeTokens, runMain, sleep, table, target, writeHostConfig } from "./lib/common.mjs";
import { ReplyMeter, startRedis, waitAllPolling } from "./lib/env.mjs";
import { spawnSide } from "./lib/side.mjs";

const { quick } = flags();
const LIMITS = { perChatPerSecond: 1, perGroupPerMinute: 20, perBotPerSecond: 30, retryAfter: 2 };
const BOTS = 2;
const WORKLOADS = [
  { name: "private", chats: Array.from({ length: 10 }, (_, i) => 1 + i), perBot: quick ? 60 : 200 },
  { name: "per-bot", chats: Array.from({ length: 60 }, (_, i) => 1 + i), perBot: quick ? 180 : 600 },
  ...(quick ? [] : [{ name: "group", chats: [-1001, -1002], perBot: 48 }]),
];
/** A run ends when every reply came, or when none came for this long (the host gave some calls up). */
const STALL_MS = 45_000;

runMain(async () => {
  header(
    `throttle: ${BOTS} bots per run against Telegram's limits at the fake (${JSON.stringify(LIMITS)}), host defaults vs throttle off`,
    quick,
  );
  const redis = await startRedis();
  const fake = await LocalBotApi.start({ record: true, limits: LIMITS });
  const meter = new ReplyMeter();
  fake.setHandler("sendMessage", (call) => meter.onSend(call));
  const results = [];
  let base = 9_000_000;
  try {
    for (const w of WORKLOADS) {
      const ideal = idealMs(w.chats, w.perBot);
      for (const throttle of [true, false]) {
        const r = await runOnce({ fake, meter, redis, w, throttle, base });
        base += 100;
        results.push({ ...r, workload: w.name, throttle, ideal });
        process.stdout.write(
          `${w.name} throttle ${throttle ? "on " : "off"}: ${r.delivered}/${r.expected} replies in ${fmt(r.ms / 1000, 1)} s (ideal ${fmt(ideal / 1000, 1)} s), ${r.tooMany} x 429, ${r.violations} violations\n`,
        );
      }
    }
  } finally {
    await fake.stop();
    await redis.stop();
  }
  report(results);
});

async function runOnce({ fake, meter, redis, w, throttle, base }) {
  const tokens = makeTokens(BOTS, base);
  const idx = meter.track(tokens);
  for (const t of tokens) fake.addBot(t);
  const configPath = writeHostConfig({
    apiRoot: fake.apiRoot,
    redisUrl: redis.url,
    prefix: freshPrefix("throttle"),
    tokens,
    // the documented defaults: outgoing throttle on (30/s per bot, 1/s per chat, 20/min per group), retries 5 x up to 30 s
    extra: { limits: throttle ? {} : { outgoing: { enabled: false } } },
  });
  const side = spawnSide("host");
  try {
    await side.start({ apiRoot: fake.apiRoot, tokens, app: BENCH_APP, configPath });
    await waitAllPolling(fake, tokens);
    const expected = BOTS * w.perBot;
    const t0 = performance.now();
    for (const t of tokens) {
      const stamp = performance.now().toFixed(2);
      fake.injectMany(
        t,
        Array.from({ length: w.perBot }, (_, i) => update(w.chats[i % w.chats.length], stamp)),
      );
    }
    const delivered = () => idx.reduce((n, i) => n + meter.replies[i], 0);
    let last = delivered();
    let lastChange = performance.now();
    while (delivered() < expected) {
      if (delivered() !== last) ((last = delivered()), (lastChange = performance.now()));
      if (performance.now() - lastChange > STALL_MS) break;
      await sleep(20);
    }
    const ms = meter.lastReplyAt - t0;
    return {
      expected,
      delivered: delivered(),
      ms,
      tooMany: tokens.reduce((n, t) => n + fake.tooManyRequests(t), 0),
      violations: tokens.reduce((n, t) => n + fake.retryAfterViolations(t), 0),
      minGap: minChatGap(fake, tokens),
    };
  } finally {
    await side.stop();
  }
}

const chatObjects = new Map();
let messageId = 0;
/** A text message in `chatId` (a group for negative ids), from the user `|chatId|`. */
function update(chatId, text) {
  let c = chatObjects.get(chatId);
  if (c === undefined) {
    const from = { id: Math.abs(chatId), is_bot: false, first_name: `User ${Math.abs(chatId)}` };
    const chat =
      chatId > 0 ? { id: chatId, type: "private", first_name: from.first_name } : { id: chatId, type: "group", title: `Group ${chatId}` };
    chatObjects.set(chatId, (c = { from, chat }));
  }
  return { message: { message_id: ++messageId, from: c.from, chat: c.chat, date: Math.floor(Date.now() / 1000), text } };
}

/** The shortest time between two messages the fake let through in one chat of one bot (ms, its Date.now()). */
function minChatGap(fake, tokens) {
  let min = Infinity;
  for (const t of tokens) {
    const last = new Map();
    for (const s of fake.sent(t)) {
      const prev = last.get(s.chat_id);
      if (prev !== undefined) min = Math.min(min, s.at - prev);
      last.set(s.chat_id, s.at);
    }
  }
  return min;
}

/**
 * The ideal finish (ms after the first message) of one bot sending `perBot` messages round-robin over `chats`,
 * each message the moment the limits allow: a greedy schedule under the same sliding windows the fake enforces.
 */
function idealMs(chats, perBot) {
  const win = (rate, period) => ({ count: Math.max(1, Math.floor(rate)), ms: (period * Math.max(1, Math.floor(rate))) / rate, times: [] });
  const earliest = (w, t) => (w.times.length < w.count ? t : Math.max(t, w.times[w.times.length - w.count] + w.ms));
  const left = new Map();
  for (let i = 0; i < perBot; i++) left.set(chats[i % chats.length], (left.get(chats[i % chats.length]) ?? 0) + 1);
  const state = new Map(
    chats.map((c) => [c, [win(LIMITS.perChatPerSecond, 1000), ...(c < 0 ? [win(LIMITS.perGroupPerMinute, 60_000)] : [])]]),
  );
  const bot = win(LIMITS.perBotPerSecond, 1000);
  let end = 0;
  for (let sent = 0; sent < perBot; sent++) {
    let best;
    let bestAt = Infinity;
    for (const [c, n] of left) {
      if (n === 0) continue;
      const at = earliest(
        bot,
        state.get(c).reduce((t, w) => earliest(w, t), 0),
      );
      if (at < bestAt) ((bestAt = at), (best = c));
    }
    for (const w of [...state.get(best), bot]) w.times.push(bestAt);
    left.set(best, left.get(best) - 1);
    end = Math.max(end, bestAt);
  }
  return end;
}

function report(results) {
  const rows = [
    ["workload", "throttle", "replies", "429 answers", "violations", "min gap in a chat (ms)", "finish (s)", "ideal (s)", "finish / ideal"],
  ];
  for (const r of results) {
    rows.push([
      r.workload,
      r.throttle ? "on (defaults)" : "off",
      `${r.delivered}/${r.expected}`,
      r.tooMany,
      r.violations,
      Number.isFinite(r.minGap) ? r.minGap : "n/a",
      fmt(r.ms / 1000, 1),
      fmt(r.ideal / 1000, 1),
      `${(r.ms / r.ideal).toFixed(2)}x`,
    ]);
  }
  table(`throttle vs Telegram's limits at the fake (${BOTS} bots per run)`, rows);
  for (const r of results.filter((x) => x.throttle)) {
    const off = results.find((x) => x.workload === r.workload && !x.throttle);
    target(`${r.workload}: zero 429s with the throttle on`, r.tooMany === 0, `${r.tooMany} x 429; throttle off: ${off?.tooMany}`);
    target(
      `${r.workload}: finish within 10% of the ideal pace`,
      r.delivered === r.expected && r.ms <= r.ideal * 1.1,
      `${(r.ms / r.ideal).toFixed(2)}x; throttle off: ${off ? (off.ms / off.ideal).toFixed(2) : "n/a"}x`,
    );
  }
}
