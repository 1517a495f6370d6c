import type { Redis } from "ioredis";

/** How long a write waits for its replicas' acknowledgements (WAIT's timeout), in ms. */
export const REPLICA_WAIT_MS = 1_000;
/** How often a write with WAIT is sent again after a cluster redirect (about 30 s in all, longer than a failover). */
const REDIRECT_ATTEMPTS = 40;

type Pipeline = { [command: string]: (...args: Array<string | number>) => unknown } & {
  exec(): Promise<Array<[Error | null, unknown]> | null>;
};

function isClusterRedirect(err: Error): boolean {
  return /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN)\b/.test(err.message);
}

/**
 * Sends `command` with its `args` and, in the same round trip and on the same node (the slot of its first key,
 * on a cluster), `WAIT minReplicas`. Resolves with the command's result and how many replicas acknowledged it.
 * Inside a pipeline ioredis does not follow MOVED (and WAIT, having no key, succeeds wherever it lands), so on
 * a cluster redirect the slot map is refreshed and the pair sent again.
 */
export async function writeWithWait(
  redis: Redis,
  command: string,
  args: Array<string | number>,
  minReplicas: number,
): Promise<{ result: unknown; acked: number }> {
  for (let attempt = 1; ; attempt++) {
    const p = redis.pipeline() as unknown as Pipeline;
    p[command]!(...args);
    p.wait!(minReplicas, REPLICA_WAIT_MS);
    const [[writeErr, result], [waitErr, acked]] = ((await p.exec()) ?? []) as [[Error | null, unknown], [Error | null, unknown]];
    const err = writeErr ?? waitErr;
    if (err === null) return { result, acked: Number(acked) };
    if (!isClusterRedirect(err) || attempt >= REDIRECT_ATTEMPTS || !("refreshSlotsCache" in redis)) throw err;
    await new Promise<void>((resolve) =>
      (redis as unknown as { refreshSlotsCache(cb: () => void): void }).refreshSlotsCache(() => resolve()),
    );
    await new Promise((r) => setTimeout(r, Math.min(100 * attempt, 1_000)));
  }
}
