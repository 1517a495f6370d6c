// Startup: first the CLI's own start (`bot-host --version`, `--help`, `check` against bare `node -e 0`, see
// bench/lib/cli-startup.mjs), then 1,000 bots from cold (empty Redis: getMe + deleteWebhook for each) and with
// the botInfo cache warm (a second start on the same Redis prefix and tokens), against 1,000 plain grammY bots
// under run() (getMe each).
//   node bench/startup.mjs [--quick] [--profile] [--cli (the CLI part only)]
// Measured in the child: host = `host.start()` until it resolves ("all bots are up"); baseline = run() for
// every bot until every bot.init() (getMe) resolved. Measured at the fake, from the moment the parent sent
// "start": until every bot has a getUpdates call (the same yardstick for both sides).
import {
  BENCH_APP,
  flags,
  fmt,
  freshPrefix,
  header,
  makeTokens,
  median,
  ratio,
  runMain,
  table,
  target,
  writeHostConfig,
} from "./lib/common.mjs";
import { addBots, startFake, startRedis, until } from "./lib/env.mjs";
import { spawnSide } from "./lib/side.mjs";
import { measureCli } from "./lib/cli-startup.mjs";

const { quick, profile } = flags();
const BOTS = quick ? 300 : 1000;
const REPEATS = quick ? 1 : 3;

runMain(async () => {
  header(`startup: the CLI, then ${BOTS} bots, cold and warm botInfo cache, ${REPEATS} run(s) each`, quick);
  measureCli(quick ? 5 : 21);
  if (process.argv.includes("--cli")) return;
  const redis = await startRedis();
  const env = await startFake();
  const runs = { baseline: [], cold: [], warm: [] };
  try {
    let base = 2_000_000;
    for (let r = 0; r < REPEATS; r++) {
      runs.baseline.push(await startOnce("baseline", env, makeTokens(BOTS, (base += 10_000))));
      const tokens = makeTokens(BOTS, (base += 10_000));
      const configPath = writeHostConfig({ apiRoot: env.fake.apiRoot, redisUrl: redis.url, prefix: freshPrefix("start"), tokens });
      runs.cold.push(await startOnce("host", env, tokens, configPath, "cold", profile && r === 0));
      runs.warm.push(await startOnce("host", env, tokens, configPath, "warm", profile && r === 0));
    }
  } finally {
    await env.fake.stop();
    await redis.stop();
  }
  const m = (k, key) => median(runs[k].map((x) => x[key]));
  const rows = [["metric (median)", "baseline", "host cold", "host warm", "cold/baseline", "warm/baseline"]];
  const row = (name, key, d = 0) =>
    rows.push([
      name,
      fmt(m("baseline", key), d),
      fmt(m("cold", key), d),
      fmt(m("warm", key), d),
      ratio(m("cold", key), m("baseline", key)),
      ratio(m("warm", key), m("baseline", key)),
    ]);
  row("start() / all init() resolved, in the child (ms)", "childMs");
  row("config load (bots.yaml -> Config), in the child (ms)", "loadMs");
  row("until every bot polls, at the fake (ms; incl. imports)", "pollMs");
  row("getMe calls at the fake", "getMe");
  row("stop (drain, confirm offsets, close) (ms)", "stopMs");
  table(`startup of ${BOTS} bots`, rows);
  process.stdout.write(
    `runs (child ms): baseline ${runs.baseline.map((x) => fmt(x.childMs, 0)).join(", ")}; cold ${runs.cold.map((x) => fmt(x.childMs, 0)).join(", ")}; warm ${runs.warm.map((x) => fmt(x.childMs, 0)).join(", ")}\n`,
  );
  const warm = m("warm", "childMs");
  target(
    `${BOTS} bots ready < 2 s with a warm cache`,
    warm < 2000,
    `host warm ${fmt(warm, 0)} ms (all polling ${fmt(m("warm", "pollMs"), 0)} ms); cold ${fmt(m("cold", "childMs"), 0)} ms; baseline ${fmt(m("baseline", "childMs"), 0)} ms`,
  );
});

async function startOnce(side, env, tokens, configPath, label = side, prof = false) {
  const { fake } = env;
  if (label !== "warm") addBots(env, tokens);
  const getMe0 = tokens.reduce((n, t) => n + fake.callCount(t, "getMe"), 0);
  const polls0 = tokens.map((t) => fake.callCount(t, "getUpdates"));
  const w = spawnSide(side, { profile: prof ? `host-startup-${label}` : undefined });
  try {
    await w.stats(); // the child is up and has loaded nothing yet: the clock starts at the "start" message
    const t0 = performance.now();
    const ready = await w.start({ apiRoot: fake.apiRoot, tokens, app: BENCH_APP, configPath });
    if (ready.running !== tokens.length) throw new Error(`${label}: only ${ready.running} of ${tokens.length} bots running`);
    await until(() => tokens.every((t, i) => fake.callCount(t, "getUpdates") > polls0[i]), 60_000, `${label}: every bot polling`, 2);
    const pollMs = performance.now() - t0;
    const getMe = tokens.reduce((n, t) => n + fake.callCount(t, "getMe"), 0) - getMe0;
    const t1 = performance.now();
    await w.stop();
    const stopMs = performance.now() - t1;
    process.stdout.write(
      `${label}: ${fmt(ready.ms, 0)} ms in the child, all polling after ${fmt(pollMs, 0)} ms, ${getMe} getMe, stop ${fmt(stopMs, 0)} ms\n`,
    );
    return { childMs: ready.ms, loadMs: ready.loadMs ?? 0, pollMs, getMe, stopMs };
  } finally {
    await w.stop();
  }
}
