import { once } from "node:events";
import { connect } from "node:net";
import type { Redis } from "ioredis";
import { uniquePrefix, waitUntil } from "./harness.js";

/**
 * Runs `work` with MONITOR open on the Redis server at `port` and hands `onCommand` every command the server ran
 * meanwhile (its arguments as ioredis' own monitor reports them, and its source: `lua` for a command a script ran),
 * up to everything `work` sent; `redis` (a client of the same server) sends the marker that says so. Use a server of
 * the test file's own: MONITOR streams every client's commands.
 *
 * MONITOR runs on a plain socket, not ioredis' `monitor()`: ioredis switches a connection to monitoring a microtask
 * after MONITOR's answer, so a line that arrives with that answer (another client's command) is taken for a reply
 * and thrown as "Command queue state error"; and its `disconnect()` only half-closes, so a line that arrives before
 * the server sees the close is thrown the same way.
 */
export async function monitorWhile(
  port: number,
  redis: Redis,
  work: () => Promise<unknown>,
  onCommand: (args: string[], source: string) => void,
): Promise<void> {
  const marker = `monitor-marker-${uniquePrefix()}`;
  const socket = connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  let monitoring = false;
  let markerSeen = false;
  let partial = "";
  socket.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\r\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "+OK") monitoring = true;
      else if (line.startsWith("+") && !markerSeen) {
        const { args, source } = parse(line.slice(1));
        if (args[1] === marker) markerSeen = true;
        else onCommand(args, source);
      }
    }
  });
  try {
    await once(socket, "connect");
    socket.write("MONITOR\r\n");
    await waitUntil(() => monitoring, "Redis to answer MONITOR", 5_000);
    await work();
    await redis.exists(marker); // MONITOR reports in order: once this shows up, what came before has too
    await waitUntil(() => markerSeen, "MONITOR to show the marker command", 5_000);
  } finally {
    socket.destroy();
  }
}

/** A MONITOR line (`<time> [<db> <source>] "<command>" "<arg>" ...`), read as ioredis' monitor reads it. */
function parse(line: string): { args: string[]; source: string } {
  const argIndex = line.indexOf('"');
  const args = line
    .slice(argIndex + 1, -1)
    .split('" "')
    .map((a) => a.replace(/\\"/g, '"'));
  const source = line.slice(line.indexOf("[") + 1, argIndex - 2).split(" ")[1] ?? "";
  return { args, source };
}
