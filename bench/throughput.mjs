// Throughput and update-to-reply latency: N bots, M updates over C chats (C/N chats per bot), host vs baseline.
//   node bench/throughput.mjs [--quick] [--profile] [--rounds N]
//   --rounds N: N rounds of baseline then host, one table each, then the median and the range of each ratio (the
//   machine's noise moves a single round's ratio by ±15%).
//   BENCH_HOST_CONFIG='{"polling":{"concurrency":8}}' node bench/throughput.mjs --quick   (top-level bots.yaml keys for the host side)
// Phases per side (baseline first, then host, each in its own child process):
//   warm-up    5% of M, not measured (JIT, connection pools);
//   saturation M updates, injected in batches (injectMany) keeping at most WINDOW unanswered per bot, so the
//              side always has work and the fake never holds a huge queue: throughput = M / (first inject ->
//              last reply); latency here is mostly queueing (about WINDOW*N / throughput);
//   paced      P updates at a fixed rate, the same for both sides: half the baseline's saturation throughput;
//              this latency is the one to compare.
// Latency = time from inject at the fake to the fake receiving that update's sendMessage (stamp in the text).
import {
  BENCH_APP,
  flags,
  fmt,
  freshPrefix,
  header,
  makeTokens,
  MB,
  median,
  quantile,
  ratio,
  runMain,
  sleep,
  table,
  target,
  writeHostConfig,
} from "./lib/common.mjs";
import { addBots, startFake, startRedis, textUpdate, until, waitAllPolling } from "./lib/env.mjs";
import { cpuSeconds, elu, spawnSide } from "./lib/side.mjs";

const { quick, profile } = flags();
const ROUNDS = Math.max(1, Number(process.argv[process.argv.indexOf("--rounds") + 1]) || 1);
const P = quick ? { bots: 20, updates: 20_000, chats: 1_000, paced: 4_000 } : { bots: 100, updates: 200_000, chats: 5_000, paced: 20_000 };
// Unanswered updates per bot during saturation: 50 x 100 bots = 5,000 = one per chat on average. Enough to keep
// either side busy (20..200 give the same throughput here); much more only makes every update live for seconds,
// so it is promoted to the old generation and both sides' heaps balloon to ~900 MB between major GCs.
const WINDOW = 50;
const PHASE_TIMEOUT_MS = quick ? 60_000 : 600_000;

runMain(async () => {
  header(
    `throughput: ${P.bots} bots, ${P.updates} updates over ${P.chats} chats (${P.chats / P.bots} per bot), app ${BENCH_APP.split("/").slice(-2).join("/")}`,
    quick,
  );
  const redis = await startRedis();
  const env = await startFake();
  try {
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const base = await runSide("baseline", env, redis, undefined);
      const host = await runSide("host", env, redis, base.paced.rate);
      rounds.push(report(base, host, ROUNDS > 1 ? ` round ${r + 1} of ${ROUNDS}` : ""));
    }
    if (ROUNDS > 1) summarize(rounds);
  } finally {
    await env.fake.stop();
    await redis.stop();
  }
});

async function runSide(side, env, redis, pacedRate) {
  const { fake, meter } = env;
  const tokens = makeTokens(P.bots, side === "host" ? 7_000_000 : 8_000_000);
  const idx = addBots(env, tokens);
  const chatsPerBot = P.chats / P.bots;
  const sent = new Int32Array(P.bots); // updates injected per bot (chat rotation)
  const configPath =
    side === "host"
      ? writeHostConfig({
          apiRoot: fake.apiRoot,
          redisUrl: redis.url,
          prefix: freshPrefix("tp"),
          tokens,
          extra: process.env.BENCH_HOST_CONFIG ? JSON.parse(process.env.BENCH_HOST_CONFIG) : {},
        })
      : undefined;
  const w = spawnSide(side, { profile: profile ? `${side}-throughput` : undefined, exposeGc: true });
  try {
    await w.start({ apiRoot: fake.apiRoot, tokens, app: BENCH_APP, configPath });
    await waitAllPolling(fake, tokens);

    const inject = (b, count, text) => {
      const bodies = new Array(count);
      for (let i = 0; i < count; i++) bodies[i] = textUpdate(1 + b * chatsPerBot + (sent[b]++ % chatsPerBot), text);
      fake.injectMany(tokens[b], bodies);
    };

    const saturate = async (n) => {
      const perBot = Math.ceil(n / P.bots);
      const done0 = Array.from(idx, (i, b) => meter.replies[i] + w.lostOf(b));
      const injected = new Int32Array(P.bots);
      const goal = meter.total + w.lost + perBot * P.bots;
      const t0 = performance.now();
      while (meter.total + w.lost < goal) {
        const stamp = performance.now().toFixed(2);
        for (let b = 0; b < P.bots; b++) {
          const open = injected[b] - (meter.replies[idx[b]] + w.lostOf(b) - done0[b]);
          if (injected[b] < perBot && open <= WINDOW / 2) {
            const k = Math.min(WINDOW - open, perBot - injected[b]);
            inject(b, k, stamp);
            injected[b] += k;
          }
        }
        if (performance.now() - t0 > PHASE_TIMEOUT_MS) throw new Error(`${side}: saturation phase timed out at ${meter.total}/${goal}`);
        await sleep(1);
      }
      return perBot * P.bots;
    };

    const paced = async (n, rate) => {
      const goal = meter.total + w.lost + n;
      const t0 = performance.now();
      let injected = 0;
      let rr = 0;
      const due = new Int32Array(P.bots);
      while (injected < n) {
        const k = Math.min(n, Math.floor((rate * (performance.now() - t0)) / 1000)) - injected;
        if (k > 0) {
          const stamp = performance.now().toFixed(2);
          for (let i = 0; i < k; i++) due[rr++ % P.bots]++;
          for (let b = 0; b < P.bots; b++) if (due[b] > 0) (inject(b, due[b], stamp), (due[b] = 0));
          injected += k;
        }
        await sleep(2);
      }
      await until(() => meter.total + w.lost >= goal, PHASE_TIMEOUT_MS, `${side}: paced phase`);
      return n;
    };

    await saturate(Math.round(P.updates / 20)); // warm-up
    const sat = await measure(w, redis, meter, () => saturate(P.updates));
    sat.throughput = sat.n / sat.wall;
    const rate = Math.round(pacedRate ?? sat.throughput / 2);
    const pac = await measure(w, redis, meter, () => paced(P.paced, rate));
    pac.rate = rate;
    const end = await w.stats({ gc: true });
    process.stdout.write(
      `${side}: ${fmt(sat.throughput, 0)} updates/s at saturation, paced at ${rate}/s p50 ${fmt(quantile(pac.lat, 0.5))} ms\n`,
    );
    return { side, sat, paced: pac, end, lost: w.lost };
  } finally {
    await w.stop();
  }
}

/** Runs one phase; wall time, CPU of the side, of the fake (this process) and of Redis, and the latencies. */
async function measure(w, redis, meter, fn) {
  meter.resetLatency();
  const [s0, r0, q0] = await Promise.all([w.stats({ resetPeak: true }), redis.cpuSeconds(), redis.reads()]);
  const p0 = process.cpuUsage();
  const e0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const n = await fn();
  const wall = (performance.now() - t0) / 1000;
  const p1 = process.cpuUsage(p0);
  const fakeElu = performance.eventLoopUtilization(e0).utilization;
  const [s1, r1, q1] = await Promise.all([w.stats(), redis.cpuSeconds(), redis.reads()]);
  return {
    n,
    wall,
    lat: meter.latencies(),
    cpu: cpuSeconds(s0, s1),
    elu: elu(s0, s1),
    fakeCpu: (p1.user + p1.system) / 1e6,
    fakeElu,
    redisCpu: r1 - r0,
    redisReads: q1 - q0,
    peakRss: s1.peakRss,
  };
}

/** Prints one round's table and target line; returns its host/baseline ratios by metric. */
function report(b, h, label) {
  const rows = [["metric", "baseline", "host", "host/baseline"]];
  const ratios = new Map();
  const row = (name, f, digits = 1, lowerIsBetter = false, noRatio = false) => {
    const x = f(b);
    const y = f(h);
    rows.push([name, fmt(x, digits), fmt(y, digits), noRatio ? "-" : ratio(y, x) + (lowerIsBetter ? " (lower is better)" : "")]);
    if (!noRatio && x > 0 && Number.isFinite(y)) ratios.set(name + (lowerIsBetter ? " (lower is better)" : ""), y / x);
  };
  row("throughput at saturation (updates/s)", (s) => s.sat.throughput, 0);
  row("saturation wall time (s)", (s) => s.sat.wall, 2, true);
  row("latency p50 at saturation (ms)", (s) => quantile(s.sat.lat, 0.5), 1, true);
  row("latency p99 at saturation (ms)", (s) => quantile(s.sat.lat, 0.99), 1, true);
  row("paced rate, same for both (updates/s)", (s) => s.paced.rate, 0);
  row("latency p50 paced (ms)", (s) => quantile(s.paced.lat, 0.5), 1, true);
  row("latency p99 paced (ms)", (s) => quantile(s.paced.lat, 0.99), 1, true);
  row("latency max paced (ms)", (s) => s.paced.lat[s.paced.lat.length - 1], 1, true);
  row("side CPU per update (µs)", (s) => (s.sat.cpu / s.sat.n) * 1e6, 0, true);
  row("side CPU use at saturation (cores, main + GC threads)", (s) => s.sat.cpu / s.sat.wall, 2);
  row("side event-loop utilization at saturation", (s) => s.sat.elu, 2);
  row("redis CPU per update (µs; baseline: idle)", (s) => (s.sat.redisCpu / s.sat.n) * 1e6, 0, false, true);
  row("redis round trips per update (socket reads; baseline: idle)", (s) => s.sat.redisReads / s.sat.n, 2, false, true);
  row("updates whose reply was lost to a network error (counted as done)", (s) => s.lost, 0, false, true);
  row("fake Bot API + load generator CPU use (cores)", (s) => s.sat.fakeCpu / s.sat.wall, 2);
  row("fake Bot API + load generator event-loop utilization", (s) => s.sat.fakeElu, 2);
  row("side peak RSS at saturation (MB)", (s) => MB(s.sat.peakRss), 1, true);
  row("side heap used at end, after GC (MB)", (s) => MB(s.end.heapUsed), 1, true);
  table(`throughput + latency (${P.bots} bots, ${P.updates} updates, ${P.chats} chats; paced phase ${P.paced} updates)${label}`, rows);
  const r = h.sat.throughput / b.sat.throughput;
  target("host throughput >= 2.0x baseline", r >= 2, `${r.toFixed(2)}x`);
  return ratios;
}

/** The median and the range of each host/baseline ratio over the rounds, and the targets on the medians. */
function summarize(rounds) {
  const rows = [["metric", "median host/baseline", "lowest", "highest"]];
  const valuesOf = (name) => rounds.map((r) => r.get(name)).filter((x) => x !== undefined);
  for (const name of rounds[0].keys()) {
    const xs = valuesOf(name);
    rows.push([name, `${median(xs).toFixed(2)}x`, `${Math.min(...xs).toFixed(2)}x`, `${Math.max(...xs).toFixed(2)}x`]);
  }
  table(`host/baseline over ${rounds.length} rounds (baseline then host in each)`, rows);
  const of = (name) => median(valuesOf(name));
  const tp = of("throughput at saturation (updates/s)");
  const cpu = of("side CPU per update (µs) (lower is better)");
  const p99 = of("latency p99 paced (ms) (lower is better)");
  target("host throughput >= 2.0x baseline (median)", tp >= 2, `${tp.toFixed(2)}x`);
  target("host CPU per update <= 0.5x baseline (median)", cpu <= 0.5, `${cpu.toFixed(2)}x`);
  target("latency p99 paced no worse than baseline (median)", p99 <= 1, `${p99.toFixed(2)}x`);
}
