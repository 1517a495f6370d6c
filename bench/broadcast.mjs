// Broadcasts: how fast a campaign reaches its recipients against its configured rate, with and without replies
// competing for the bot's limit.
//   node bench/broadcast.mjs [--quick]
// One real `bot-host start` with the bench app and one bot, Telegram's limits enforced by the local Bot API.
// An audience of N private chats writes to the bot first; then `bot-host broadcast` runs a campaign at each
// configured rate. Reached rate = recipients after the first / (last send - first send), at the Bot API.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { BENCH_APP, flags, fmt, freshPrefix, header, makeTokens, ROOT, runMain, sleep, table, writeHostConfig } from "./lib/common.mjs";
import { startRedis, textUpdate, until } from "./lib/env.mjs";
import { LocalBotApi } from "../dist/src/local-api/index.js";

const { quick } = flags();
const AUDIENCE = quick ? 150 : 600;
const RATES = [10, 20, 30];
const CLI = join(ROOT, "dist/src/cli/main.js");

runMain(async () => {
  header(`broadcast: one bot, an audience of ${AUDIENCE}, campaigns at ${RATES.join(", ")} messages/s; Telegram's limits enforced`, quick);
  const redis = await startRedis();
  const fake = await LocalBotApi.start({ record: false, limits: true });
  const sends = new Map(); // text -> send times
  let messageId = 0;
  fake.setHandler("sendMessage", ({ bot, params }) => {
    const text = String(params.text ?? "");
    let list = sends.get(text);
    if (list === undefined) sends.set(text, (list = []));
    list.push(performance.now());
    const chatId = Number(params.chat_id);
    return {
      message_id: ++messageId,
      from: { id: bot.id, is_bot: true, first_name: bot.first_name },
      chat: { id: chatId, type: "private" },
      date: 0,
      text,
    };
  });
  const [token] = makeTokens(1, 9_100_000);
  fake.addBot(token);
  const rows = [["configured rate (/s)", "replies meanwhile (/s)", "recipients", "reached (/s)", "reached / configured", "429s"]];
  try {
    for (const rate of RATES) {
      for (const replies of rate === 30 ? [0, 10] : [0]) rows.push(await run(fake, redis, token, rate, replies, sends));
    }
  } finally {
    await fake.stop();
    await redis.stop();
  }
  table("a campaign's pace at the Bot API", rows);
});

async function run(fake, redis, token, rate, repliesPerSecond, sends) {
  const config = writeHostConfig({
    apiRoot: fake.apiRoot,
    redisUrl: redis.url,
    prefix: freshPrefix("broadcast"),
    tokens: [token],
    extra: { limits: { outgoing: { enabled: true } }, broadcast: { rate }, leases: { enabled: false } },
  });
  const host = spawn(process.execPath, [CLI, "start", "--config", config], { stdio: ["ignore", "pipe", "inherit"] });
  let up = false;
  createInterface({ input: host.stdout }).on("line", (line) => {
    if (line.includes('"all bots are up"')) up = true;
  });
  await until(() => up, 30_000, "the host up");
  const hello = `hello-${rate}-${repliesPerSecond}`;
  for (let c = 0; c < AUDIENCE; c++) fake.inject(token, textUpdate(1_000_000 + c, hello));
  await until(
    () => (sends.get(`1|${hello}`)?.length ?? 0) + (sends.get(`2|${hello}`)?.length ?? 0) >= AUDIENCE,
    120_000,
    "the audience",
    20,
  );
  // 429s counted from the campaign on (the audience's first replies may meet the previous run's last second).
  const before = fake.tooManyRequests(token);
  const text = `campaign at ${rate}/s with ${repliesPerSecond} replies/s`;
  // Not spawnSync: the local Bot API answers from this very process.
  const cli = spawn(process.execPath, [CLI, "broadcast", "--config", config, "--bot", "b0", "--text", text], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  cli.stdout.on("data", (d) => (out += d));
  cli.stderr.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => cli.once("exit", resolve));
  // Replies start once the campaign has its recipients (a chat that writes now would join the next one only).
  await until(() => out.includes("recipient(s)"), 30_000, "the campaign created", 5);
  let talking = true;
  const talk = (async () => {
    for (let i = 0; talking && repliesPerSecond > 0; i++) {
      fake.inject(token, textUpdate(2_000_000 + i, `talk ${i}`));
      await sleep(1000 / repliesPerSecond);
    }
  })();
  const code = await exited;
  talking = false;
  await talk;
  if (code !== 0) throw new Error(`broadcast failed: ${out}`);
  host.kill("SIGTERM");
  await new Promise((resolve) => host.once("exit", resolve));
  const t = sends.get(text) ?? [];
  const reached = t.length > 1 ? ((t.length - 1) * 1000) / (t[t.length - 1] - t[0]) : 0;
  process.stdout.write(`rate ${rate}/s, ${repliesPerSecond} replies/s: ${t.length} recipients, reached ${fmt(reached)}/s\n`);
  return [
    String(rate),
    String(repliesPerSecond),
    String(t.length),
    fmt(reached),
    `${(reached / rate).toFixed(2)}x`,
    String(fake.tooManyRequests(token) - before),
  ];
}
