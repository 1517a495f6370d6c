// Throughput and Redis round trips per update: the host on one Redis server vs a Redis Cluster (3 masters,
// 3 replicas), with and without `min_replicas: 1`, against plain grammY + runner (state in process memory).
//   node bench/redis-topologies.mjs [--quick]
// Each side runs in its own child process; the workload saturates every bot (a window of unanswered updates
// per bot). Commands are counted on the Redis masters (INFO commandstats): GET (the session read), EVALSHA and
// EVAL (the journal and commit scripts) and WAIT, which is pipelined with its script (no extra round trip, but
// it waits for the replica); leases are off, so no other command runs per update.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { Redis } from "ioredis";
import {
  BENCH_APP,
  flags,
  fmt,
  freshPrefix,
  header,
  makeTokens,
  ratio,
  ROOT,
  runMain,
  sleep,
  table,
  writeHostConfig,
} from "./lib/common.mjs";
import { addBots, startFake, startRedis, textUpdate, waitAllPolling } from "./lib/env.mjs";
import { spawnSide } from "./lib/side.mjs";

const { quick } = flags();
const P = quick ? { bots: 10, updates: 5_000, chats: 200 } : { bots: 20, updates: 20_000, chats: 400 };
const WINDOW = 50;

/** test/support's cluster helper, transpiled next to node_modules so that its imports resolve. */
async function loadClusterHelper() {
  const dir = join(ROOT, "node_modules/.cache/bot-host-bench");
  mkdirSync(dir, { recursive: true });
  for (const name of ["redis-server", "redis-cluster"]) {
    const source = readFileSync(join(ROOT, `test/support/${name}.ts`), "utf8");
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(join(dir, `${name}.js`), outputText);
  }
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
  return import(join(dir, "redis-cluster.js"));
}

runMain(async () => {
  header(`redis topologies: ${P.bots} bots, ${P.updates} updates over ${P.chats} chats, saturated; one server vs a 3+3 cluster`, quick);
  const env = await startFake();
  const single = await startRedis();
  const { startRedisCluster } = await loadClusterHelper();
  const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
  const seeds = cluster.seeds;
  const masters = () => cluster.nodes.filter((n) => n.role === "master").map((n) => n.port);
  const rows = [];
  try {
    let base = 9_000_000;
    const run = async (name, redisSection, masterPorts) => {
      const r = await runSide(env, (base += 1_000), redisSection, masterPorts);
      rows.push({ name, ...r });
      process.stdout.write(`${name}: ${fmt(r.throughput, 0)} updates/s, ${fmt(r.tripsPerUpdate, 2)} Redis commands per update\n`);
    };
    await run("baseline: plain grammY + runner", undefined, []);
    await run("host, one server", { url: single.url }, [Number(new URL(single.url).port)]);
    await run("host, cluster 3+3", { cluster: seeds }, masters());
    await run("host, cluster 3+3, min_replicas 1", { cluster: seeds, min_replicas: 1 }, masters());
  } finally {
    await cluster.stop();
    await single.stop();
    await env.fake.stop();
  }
  const [baseline, one] = rows;
  table(`throughput and Redis round trips per update (${P.updates} updates, ${P.bots} bots)`, [
    ["side", "updates/s", "x baseline", "x one server", "Redis commands per update", "by command (per update)"],
    ...rows.map((r) => [
      r.name,
      fmt(r.throughput, 0),
      ratio(r.throughput, baseline.throughput),
      r === baseline ? "-" : ratio(r.throughput, one.throughput),
      r === baseline ? "0" : fmt(r.tripsPerUpdate, 2),
      r.byCommand,
    ]),
  ]);
});

/** One side: starts it, saturates it with P.updates, returns throughput and round trips per update. */
async function runSide(env, tokenBase, redisSection, masterPorts) {
  const { fake, meter } = env;
  const tokens = makeTokens(P.bots, tokenBase);
  const idx = addBots(env, tokens);
  const host = redisSection !== undefined;
  const configPath = host
    ? writeHostConfig({
        apiRoot: fake.apiRoot,
        redisUrl: "",
        prefix: "",
        tokens,
        extra: { redis: { ...redisSection, key_prefix: freshPrefix("topo") }, leases: { enabled: false } },
      })
    : undefined;
  const w = spawnSide(host ? "host" : "baseline");
  const probes = masterPorts.map((port) => new Redis({ host: "127.0.0.1", port, lazyConnect: true }));
  try {
    await Promise.all(probes.map((p) => p.connect()));
    await w.start({ apiRoot: fake.apiRoot, tokens, app: BENCH_APP, configPath });
    await waitAllPolling(fake, tokens);
    const perBot = Math.ceil(P.updates / P.bots);
    const chatsPerBot = P.chats / P.bots;
    const saturate = async (n) => {
      const done0 = Array.from(idx, (i) => meter.replies[i]);
      const injected = new Int32Array(P.bots);
      const goal = meter.total + n * P.bots;
      while (meter.total < goal) {
        const stamp = performance.now().toFixed(2);
        for (let b = 0; b < P.bots; b++) {
          const open = injected[b] - (meter.replies[idx[b]] - done0[b]);
          if (injected[b] < n && open <= WINDOW / 2) {
            const k = Math.min(WINDOW - open, n - injected[b]);
            const bodies = Array.from({ length: k }, (_, i) => textUpdate(1 + b * chatsPerBot + ((injected[b] + i) % chatsPerBot), stamp));
            fake.injectMany(tokens[b], bodies);
            injected[b] += k;
          }
        }
        await sleep(1);
      }
    };
    await saturate(Math.ceil(perBot / 20)); // warm-up
    const before = await commandStats(probes);
    const t0 = performance.now();
    await saturate(perBot);
    const wall = (performance.now() - t0) / 1000;
    const after = await commandStats(probes);
    const n = perBot * P.bots;
    const delta = (cmd) => (after[cmd] ?? 0) - (before[cmd] ?? 0);
    const counted = ["get", "evalsha", "eval", "wait"];
    const trips = counted.reduce((s, c) => s + delta(c), 0);
    return {
      throughput: n / wall,
      tripsPerUpdate: trips / n,
      byCommand: host
        ? counted
            .filter((c) => delta(c) > 0)
            .map((c) => `${c} ${fmt(delta(c) / n, 2)}`)
            .join(", ")
        : "-",
    };
  } finally {
    for (const p of probes) p.disconnect();
    await w.stop();
  }
}

/** Calls per command, summed over the given nodes. */
async function commandStats(probes) {
  const total = {};
  for (const p of probes) {
    for (const m of (await p.info("commandstats")).matchAll(/^cmdstat_(\w+):calls=(\d+)/gm))
      total[m[1]] = (total[m[1]] ?? 0) + Number(m[2]);
  }
  return total;
}
