import type { Logger } from "../logging/logger.js";
import type { BotStop } from "../runtime/bot-runner.js";
import { DrainTimeoutError, ShutdownSteps } from "../lifecycle/shutdown-steps.js";
import type { Services } from "./services.js";

/**
 * The ordered stop of a host's services, the reverse of their start, in five logged steps:
 * (1) leave the live instances and stop intake on every bot (readiness false, webhook requests get 503),
 * (2) drain what was received, (3) confirm offsets, then release the leases, (4) close the HTTP server and the
 * shared transport, (5) close the storage last (Redis QUIT, after the last write). A drain cut short by
 * `drainTimeoutMs` rejects with {@link DrainTimeoutError} and skips the later steps (the journal keeps the cut
 * updates for the next start); a failed step is logged and the steps after it still run.
 *
 * `starting` is the host's start, if one is in progress: it settles quickly once intake is stopped, and the bots
 * it created meanwhile are stopped too.
 */
export async function stopServices(
  s: Services,
  log: Logger,
  drainTimeoutMs: number,
  starting: Promise<unknown> | undefined,
): Promise<void> {
  const steps = new ShutdownSteps(log, 5);
  let stops: BotStop[] = [];
  await steps.run(1, "stop intake", "stopped intake", async () => {
    // Leave the live instances first, so the others take each bot as soon as it is released below.
    await s.fleet.leave();
    stops = s.fleet.stopAll(drainTimeoutMs);
    await starting?.catch(() => undefined);
    stops = s.fleet.stopAll(drainTimeoutMs);
    await s.watcher?.stop();
    return { bots: stops.length, in_flight: s.fleet.cutReport().total };
  });

  const inFlight = s.fleet.cutReport().total;
  const t0 = performance.now();
  const complete = (await Promise.all(stops.map((b) => b.drained))).every(Boolean);
  if (!complete) {
    const cut = s.fleet.cutReport();
    await Promise.all(stops.map((b) => b.done));
    throw new DrainTimeoutError(cut, drainTimeoutMs / 1000);
  }
  log.info({ step: 2, ms: Math.round(performance.now() - t0), updates: inFlight }, "shutdown step 2/5: drained");

  await steps.run(3, "confirm offsets", "confirmed offsets", async () => {
    const confirmed = (await Promise.all(stops.map((b) => b.done))).filter((r) => r.offset !== undefined).length;
    // Only now, with every offset confirmed, may another instance take the bots.
    const released = await s.fleet.releaseAll();
    return released === undefined ? { bots: confirmed } : { bots: confirmed, leases_released: released };
  });
  await steps.run(4, "close the HTTP server and the shared HTTP agent", "closed the HTTP server and the shared HTTP agent", async () => {
    await Promise.all([s.http?.stop(), s.transport.stop()]);
    return {};
  });
  // Storage goes last: everything above may still write to it (throttle counters, journal commits).
  await steps.run(5, "close state", "closed state", async () => {
    await s.storage.stop();
    return { store: s.storage.name };
  });
  steps.finish();
}
