import type { Redis } from "ioredis";
import type { Logger } from "../logging/logger.js";
import { redactUrl } from "../config/token.js";

/** A cluster master that stopped serving is reported once in this long (ms). */
const NODE_REPORT_INTERVAL_MS = 60_000;

type Node = { options: { host?: string; port?: number } };
const nodeOf = (r: Node): string => `${r.options.host ?? "?"}:${r.options.port ?? "?"}`;

/**
 * Logs what happens to the state store's connection, each event once: the connection lost (and restored), a
 * cluster master that stopped serving its slots (demoted in a failover, or dead), a Sentinel master's
 * connection closing. `stopping` silences it while the store closes on purpose.
 */
export function logConnectionEvents(redis: Redis, o: { log: Logger; url: string; sentinel: boolean; stopping: () => boolean }): void {
  let connectedOnce = false;
  let lost = false;
  const url = redactUrl(o.url);
  redis.on("error", (err: Error) => {
    if (!connectedOnce || lost) return;
    lost = true;
    o.log.error({ err, url }, "lost the Redis connection; reconnecting, queued writes wait");
  });
  redis.on("ready", () => {
    if (lost) o.log.info({ url }, "Redis connection restored");
    connectedOnce = true;
    lost = false;
  });
  redis.on("close", () => {
    if (!connectedOnce || lost || o.stopping() || !o.sentinel) return;
    lost = true;
    o.log.warn({ url }, "the Redis master connection closed (a Sentinel failover?); asking the sentinels for the master, queued writes wait");
  });
  // A dead node comes and goes from ioredis' view at every slot refresh until the cluster forgets it.
  const reported = new Map<string, number>();
  redis.on("-node", (r: Node) => {
    const node = nodeOf(r);
    if (!connectedOnce || o.stopping() || Date.now() - (reported.get(node) ?? 0) < NODE_REPORT_INTERVAL_MS) return;
    reported.set(node, Date.now());
    o.log.warn({ node }, "a Redis Cluster master stopped serving its slots (failover); their writes wait for the new master");
  });
  redis.on("+node", (r: Node) => {
    if (connectedOnce) o.log.debug({ node: nodeOf(r) }, "a Redis Cluster node joined");
  });
}
