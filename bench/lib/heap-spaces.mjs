// The stats replies of bench/lib/worker.mjs and bench/lib/cli-probe.mjs: memory, CPU, and what each V8 heap space
// holds in RAM with the RSS split by kind.
import { readFileSync } from "node:fs";
import { getHeapSpaceStatistics } from "node:v8";

/**
 * Physical bytes of each V8 heap space, by space name without the `_space` suffix (new, old, code, ...), plus
 * `rssFile` (pages mapped from files: the node binary and shared libraries, shared with every other node
 * process) and `rssAnon` (this process' own memory) where Linux reports them (/proc/self/status).
 */
export function spaces() {
  const out = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ""), s.physical_space_size]));
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    out.rssFile = kb("RssFile");
    out.rssAnon = kb("RssAnon") + kb("RssShmem");
  } catch {}
  return out;
}

/** Memory and CPU of this process: the fields both stats replies share. */
export function processStats() {
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    spaces: spaces(),
  };
}
