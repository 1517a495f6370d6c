// Preloaded (`--import`) into a real `bot-host start` child by spawnCli() of bench/lib/side.mjs, so the parent
// can sample the CLI process as it runs in production: answers { type: "stats", id, gc? } over IPC with the
// same memory fields as bench/lib/worker.mjs. It loads nothing but node:v8.
import { spaces } from "./heap-spaces.mjs";

const send = (msg) => process.send?.(msg);

process.on("message", (msg) => {
  if (msg?.type !== "stats") return;
  if (msg.gc && globalThis.gc) for (let i = 0; i < 3; i++) globalThis.gc();
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  send({
    type: "stats",
    id: msg.id,
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    spaces: spaces(),
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
  });
});
// The parent went away: stop the host the way an operator would, never linger.
process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
