// Runs every benchmark, one after another, each in its own process (they share nothing), and prints
// everything they print. Flags (--quick, --profile) are passed on.
//   node bench/run-all.mjs [--quick] [--profile]
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./lib/common.mjs";

const SCRIPTS = [
  "throughput",
  "memory",
  "backlog",
  "drain",
  "startup",
  "throttle",
  "leases",
  "single",
  "broadcast",
  "scale",
  "redis-topologies",
];
const args = process.argv.slice(2);
const failed = [];
const t0 = performance.now();
for (const name of SCRIPTS) {
  const r = spawnSync(process.execPath, [join(ROOT, "bench", `${name}.mjs`), ...args], { stdio: "inherit" });
  if (r.status !== 0) failed.push(`${name} (${r.status ?? r.signal})`);
}
process.stdout.write(
  `\nall benchmarks done in ${((performance.now() - t0) / 1000).toFixed(0)} s${failed.length > 0 ? `; FAILED: ${failed.join(", ")}` : ""}\n`,
);
process.exit(failed.length > 0 ? 1 : 0);
