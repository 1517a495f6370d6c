// Start time and peak RSS of short CLI commands against bare `node -e 0`, measured side by side: the commands
// run in turns (node, --version, --help, check, node, ...) so a busy moment of the machine hits all of them.
// Wall time is spawn to exit, seen from this process (what a shell sees). Peak RSS comes from separate runs with
// a preload that prints `process.resourceUsage().maxRSS` at exit, so the timed runs carry no preload.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fmt, median, ratio, ROOT, table, target } from "./common.mjs";

const CLI = join(ROOT, "dist/src/cli/main.js");
const PEAK_PRELOAD = `data:text/javascript,${encodeURIComponent(
  'process.on("exit", () => process.stderr.write(`\\npeak-rss-kb ${process.resourceUsage().maxRSS}\\n`));',
)}`;

/** The commands timed, with the ratio each must stay within. */
export const CLI_COMMANDS = [
  { name: "node -e 0", args: ["-e", "0"] },
  { name: "bot-host --version", args: [CLI, "--version"], within: 2 },
  { name: "bot-host --help", args: [CLI, "--help"], within: 2 },
  { name: "bot-host check (committed bots.yaml)", args: [CLI, "check", "--config", join(ROOT, "bots.yaml")], within: 3 },
];

// The committed bots.yaml names its tokens by variable; check needs them set (fake values, never printed).
const ENV = {
  ...process.env,
  SUPPORT_BOT_TOKEN: "100001:BENCHxxxxxxxxxxxxxxxxxxxxxxxxxxx0001",
  SALES_BOT_TOKEN: "100002:BENCHxxxxxxxxxxxxxxxxxxxxxxxxxxx0002",
};

function runOnce(args, preload) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, preload ? ["--import", PEAK_PRELOAD, ...args] : args, { env: ENV, encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status ?? r.signal}: ${r.stderr}`);
  const kb = Number(/peak-rss-kb (\d+)/.exec(r.stderr ?? "")?.[1] ?? NaN);
  return { ms, kb };
}

/** Times every command `rounds` times (in turns) and prints the table and the targets; returns the medians. */
export function measureCli(rounds) {
  const times = CLI_COMMANDS.map(() => []);
  const peaks = CLI_COMMANDS.map(() => []);
  for (const c of CLI_COMMANDS) runOnce(c.args, false); // warm the file cache
  for (let r = 0; r < rounds; r++) {
    CLI_COMMANDS.forEach((c, i) => times[i].push(runOnce(c.args, false).ms));
    if (r < 3) CLI_COMMANDS.forEach((c, i) => peaks[i].push(runOnce(c.args, true).kb));
  }
  const base = median(times[0]);
  const rows = [["command", "wall time, median (ms)", "min / max (ms)", "x node -e 0", "peak RSS (MB)", "target"]];
  CLI_COMMANDS.forEach((c, i) => {
    const t = times[i];
    rows.push([
      c.name,
      fmt(median(t), 0),
      `${fmt(Math.min(...t), 0)} / ${fmt(Math.max(...t), 0)}`,
      ratio(median(t), base),
      fmt(median(peaks[i]) / 1024),
      c.within ? `<= ${c.within}x` : "",
    ]);
  });
  table(`CLI start, ${rounds} runs of each in turns (spawn to exit)`, rows);
  CLI_COMMANDS.forEach((c, i) => {
    if (c.within !== undefined) {
      const m = median(times[i]);
      target(
        `${c.name} within ${c.within}x of node -e 0`,
        m <= c.within * base,
        `${ratio(m, base)}: ${fmt(m, 0)} ms vs ${fmt(base, 0)} ms`,
      );
    }
  });
  return CLI_COMMANDS.map((c, i) => ({ name: c.name, ms: median(times[i]), peakMb: median(peaks[i]) / 1024 }));
}
