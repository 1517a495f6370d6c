import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisTarget } from "../config/index.js";

/** How to reach Redis, as bots.yaml's `redis` section says. */
export interface RedisConnectionSettings {
  readonly target: RedisTarget;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
}

function hostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(address.slice(i + 1)) };
}

/**
 * A client for one server, a Redis Cluster or a master behind Sentinel, through ioredis' own support for each.
 * A Cluster client is returned as `Redis`: every command, script (`defineCommand`), event and `quit` the store
 * uses has the same shape on both, and each script's keys share one hash tag, so a cluster runs it on one slot.
 * `options` apply to every connection (on a cluster, to each node's).
 */
export function createRedisClient(settings: RedisConnectionSettings, options: RedisOptions): Redis {
  const auth: RedisOptions = {
    ...(settings.username === undefined ? {} : { username: settings.username }),
    ...(settings.password === undefined ? {} : { password: settings.password }),
    ...(settings.tls ? { tls: {} } : {}),
  };
  const { target } = settings;
  switch (target.kind) {
    case "server":
      return new Redis(target.url, { ...options, ...auth });
    case "sentinel":
      return new Redis({
        ...options,
        ...auth,
        sentinels: target.sentinels.map(hostPort),
        name: target.name,
        // Watch every sentinel for the switch: the old master keeps taking writes for seconds after a
        // failover (about 11 s measured here), all of them lost; this moves on within about a second.
        failoverDetector: true,
        ...(settings.tls ? { enableTLSForSentinelMode: true } : {}),
      });
    case "cluster": {
      const { lazyConnect, enableAutoPipelining: _batching, retryStrategy, ...perNode } = options;
      const cluster = new Cluster(target.nodes.map(hostPort), {
        ...(lazyConnect === undefined ? {} : { lazyConnect }),
        // No auto-pipelining on a cluster: ioredis then batches commands of different slots per node and rejects
        // the batch ("All keys in the pipeline should belong to the same slots allocation group").
        ...(retryStrategy === undefined ? {} : { clusterRetryStrategy: retryStrategy }),
        // Writes go to masters only; a failover (a few seconds without a master for some slots) is waited out.
        scaleReads: "master",
        retryDelayOnClusterDown: 200,
        retryDelayOnFailover: 200,
        retryDelayOnTryAgain: 200,
        maxRedirections: 100,
        redisOptions: { ...perNode, ...auth },
      });
      return cluster as unknown as Redis;
    }
  }
}

/** A second client like `client` (same target and settings), with `options` on top. */
export function duplicateClient(client: Redis, options: RedisOptions): Redis {
  if (client instanceof Cluster) {
    const cluster = client as unknown as Cluster;
    return cluster.duplicate([], { redisOptions: { ...cluster.options.redisOptions, ...options } }) as unknown as Redis;
  }
  return client.duplicate(options);
}

/** The names of the clients connected to Redis: of the one server, or of every master of a cluster (CLIENT LIST). */
export async function clientNames(client: Redis): Promise<string[]> {
  const nodes = client instanceof Cluster ? (client as unknown as Cluster).nodes("master") : [client];
  const lists = await Promise.all(nodes.map((n) => n.client("LIST") as Promise<string>));
  return lists.flatMap((list) => [...list.matchAll(/ name=(\S*)/g)].map((m) => m[1]!).filter((n) => n !== ""));
}
