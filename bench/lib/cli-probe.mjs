// Preloaded (`--import`) into a real `bot-host start` child by spawnCli() of bench/lib/side.mjs, so the parent
// can sample the CLI process as it runs in production: answers { type: "stats", id, gc? } over IPC with the
// same memory and CPU fields as bench/lib/worker.mjs (processStats). It loads nothing but node:v8 and node:fs.
import { processStats } from "./heap-spaces.mjs";

const send = (msg) => process.send?.(msg);

process.on("message", (msg) => {
  if (msg?.type !== "stats") return;
  if (msg.gc && globalThis.gc) for (let i = 0; i < 3; i++) globalThis.gc();
  send({ type: "stats", id: msg.id, ...processStats() });
});
// The parent went away: stop the host the way an operator would, never linger.
process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
