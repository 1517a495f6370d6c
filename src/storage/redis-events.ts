import type { Redis } from "ioredis";
import type { Logger } from "../logging/logger.js";

/** A master that left the cluster's master set is reported once in this long (ms). */
const REPORT_ONCE_MS = 60_000;

type Node = { options: { host?: string; port?: number } };
const nodeOf = (r: Node): string => `${r.options.host ?? "?"}:${r.options.port ?? "?"}`;

/**
 * Logs what happens to the state store's connection, each event once: the connection lost (and restored), a
 * change of a cluster's masters (a failover), a Sentinel master's connection closing. `stopping` silences it
 * while the store closes on purpose.
 */
export function logConnectionEvents(
  redis: Redis,
  o: { log: Logger; /** How Redis is named in messages (no password). */ url: string; sentinel: boolean; stopping: () => boolean },
): void {
  let connectedOnce = false;
  let lost = false;
  const url = o.url;
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
    o.log.warn(
      { url },
      "the Redis master connection closed (a Sentinel failover?); asking the sentinels for the master, queued writes wait",
    );
  });
  // A cluster's failover (manual or after a master died) shows as a new set of masters when ioredis refreshes
  // its slot map, which a MOVED or CLUSTERDOWN answer triggers.
  let masters: string | undefined;
  const reported = new Map<string, number>();
  redis.on("refresh", () => {
    const now = (redis as unknown as { nodes(role: "master"): Node[] }).nodes("master").map(nodeOf).sort();
    const was = masters;
    masters = now.join(",");
    if (was === undefined || was === masters || o.stopping()) return;
    const before = was.split(",");
    // A failover is logged when its old master leaves the set, once: a dead node can come and go from the
    // slot map until the cluster forgets it, and a promotion seen apart from it is detail.
    const gone = before.filter((m) => !now.includes(m) && Date.now() - (reported.get(m) ?? 0) > REPORT_ONCE_MS);
    const fresh = now.filter((m) => !before.includes(m));
    for (const m of gone) reported.set(m, Date.now());
    if (gone.length > 0)
      o.log.warn(
        { masters: now, gone, new: fresh },
        "the Redis Cluster's masters changed (a failover); writes to the moved slots go to the new masters",
      );
    else o.log.debug({ masters: now, new: fresh }, "the Redis Cluster's masters changed");
  });
  redis.on("-node", (r: Node) => {
    if (connectedOnce) o.log.debug({ node: nodeOf(r) }, "a Redis Cluster node left the client's view");
  });
}
