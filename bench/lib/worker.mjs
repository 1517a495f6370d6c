// One side of a benchmark in its own process (forked by bench/lib/side.mjs), so that RSS, heap and CPU are
// measured per side. IPC protocol (every reply echoes the request's `id`):
//   parent -> { type: "start", id, side: "host" | "baseline", params }  child -> { type: "ready", id, ms, running }
//   parent -> { type: "stats", id, gc?, resetPeak? }                      child -> { type: "stats", id, rss, heapUsed, heapTotal, external, cpuUser, cpuSystem, peakRss, peakSpaces, eluIdle, eluActive }
//   parent -> { type: "stop", id }                                       child -> { type: "stopped", id, ms } and exits
// params (both sides): apiRoot, tokens, app; host: configPath; baseline: drainOnSigterm.
// The host side is `new Host(config, logger)` from dist/ with a pino logger at "warn" to /dev/null, after the
// heap growth cap `bot-host start` sets (limitHeapGrowth) and with V8's optimizing compilers held while it starts,
// as `start` holds them (holdOptimizingCompilers: undici's HTTP parser then stays on V8's baseline wasm tier); the
// baseline side is one plain grammY Bot per token, each under run() from @grammyjs/runner, with grammY's
// in-memory session() and sequentialize on the chat, on grammY's default transport.
import { pathToFileURL } from "node:url";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { processStats, spaces } from "./heap-spaces.mjs";

// BENCH_HEAP_PROFILE=<file>: sample every allocation site, garbage included (where GC time comes from);
// written at "stop" to <file>-<side>.heapprofile. Summarize with bench/lib/profile-summary.mjs <file>.heapprofile.
const heapProfile = process.env.BENCH_HEAP_PROFILE;
let inspector;
if (heapProfile) {
  inspector = new Session();
  inspector.connect();
  await inspector.post("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

let peakRss = 0;
let peakAt = 0;
let peakSpaces = {};
let startedAt = 0;
let lost = 0;
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > peakRss) ((peakRss = rss), (peakAt = performance.now()), (peakSpaces = spaces()));
}, 100);
sampler.unref();

let stopSide = async () => {};
let side = "side";
const send = (msg) => process.send?.(msg);

process.on("unhandledRejection", (err) => process.stderr.write(`[worker ${process.pid}] unhandled rejection: ${err?.stack ?? err}\n`));

async function startHost(params) {
  // What `bot-host start` sets for the process before it loads anything (see src/cli/start.ts).
  const [{ limitHeapGrowth }, { holdOptimizingCompilers }] = await Promise.all([
    import("../../dist/src/host/heap-growth.js"),
    import("../../dist/src/host/start-compilers.js"),
  ]);
  const releaseCompilers = holdOptimizingCompilers();
  limitHeapGrowth();
  const [{ Host }, { loadConfig }, { createLogger }, { pino }] = await Promise.all([
    import("../../dist/src/host/host.js"),
    import("../../dist/src/config/index.js"),
    import("../../dist/src/logging/logger.js"),
    import("pino"),
  ]);
  const tLoad = performance.now();
  const config = await loadConfig(params.configPath, {});
  const loadMs = performance.now() - tLoad;
  const logger = createLogger({ level: "warn", destination: pino.destination({ dest: "/dev/null", sync: false }) });
  const t0 = performance.now();
  const host = new Host(config, logger);
  const report = await host.start();
  const ms = performance.now() - t0;
  releaseCompilers();
  stopSide = () => host.stop(60_000);
  return { ms, loadMs, running: report.running.length };
}

async function startBaseline(params) {
  const [{ Bot, session }, { run, sequentialize }, app] = await Promise.all([
    import("grammy"),
    import("@grammyjs/runner"),
    import(pathToFileURL(params.app).href),
  ]);
  let inFlight = 0;
  let idle = () => {};
  const t0 = performance.now();
  const bots = params.tokens.map((token, index) => {
    const bot = new Bot(token, { client: { apiRoot: params.apiRoot } });
    if (params.drainOnSigterm) {
      bot.use(async (_ctx, next) => {
        inFlight++;
        try {
          await next();
        } finally {
          if (--inFlight === 0) idle();
        }
      });
    }
    bot.use(sequentialize((ctx) => ctx.chat?.id.toString()));
    bot.use(session({ initial: () => ({}) }));
    bot.use(app.default);
    // Under saturation grammY's default transport opens a socket per concurrent call, and some are reset
    // (ECONNRESET): the parent counts those updates as done, and the report shows how many there were.
    bot.catch((err) => {
      if (lost++ < 3) process.stderr.write(`[baseline] handler error: ${err.error ?? err} (${err.error?.error?.code ?? ""})\n`);
      process.send?.({ type: "lost", bot: index });
    });
    return bot;
  });
  const handles = bots.map((bot) => run(bot));
  await Promise.all(bots.map((bot) => bot.init()));
  const ms = performance.now() - t0;
  stopSide = () => Promise.all(handles.map((h) => h.stop()));
  if (params.drainOnSigterm) {
    // A plain grammY drain: stop fetching, wait for the handlers in flight, exit (offsets are not confirmed).
    process.once("SIGTERM", async () => {
      await Promise.all(handles.map((h) => h.stop()));
      if (inFlight > 0) await new Promise((r) => (idle = r));
      process.exit(0);
    });
  }
  return { ms, running: bots.length };
}

process.on("message", async (msg) => {
  try {
    if (msg.type === "start") {
      side = msg.side;
      startedAt = performance.now();
      const r = msg.side === "host" ? await startHost(msg.params) : await startBaseline(msg.params);
      send({ type: "ready", id: msg.id, ...r });
    } else if (msg.type === "stats") {
      if (msg.gc && globalThis.gc) for (let i = 0; i < 3; i++) globalThis.gc();
      const stats = processStats();
      const elu = performance.eventLoopUtilization();
      send({
        type: "stats",
        id: msg.id,
        ...stats,
        peakRss: Math.max(peakRss, stats.rss),
        peakAtMs: peakAt - startedAt,
        peakSpaces,
        eluIdle: elu.idle,
        eluActive: elu.active,
      });
      if (msg.resetPeak) peakRss = 0;
    } else if (msg.type === "stop") {
      const t0 = performance.now();
      await stopSide();
      if (inspector) {
        const { profile } = await inspector.post("HeapProfiler.stopSampling");
        writeFileSync(`${heapProfile}-${side}.heapprofile`, JSON.stringify(profile));
      }
      send({ type: "stopped", id: msg.id, ms: performance.now() - t0 });
      process.exit(0); // with --cpu-prof the profile is written on exit
    }
  } catch (err) {
    send({ type: "error", id: msg.id, message: err?.stack ?? String(err) });
  }
});
process.on("disconnect", () => process.exit(0)); // the parent went away: never linger
