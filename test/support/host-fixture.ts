import { afterEach } from "vitest";
import { LocalBotApi } from "./fake-bot-api.js";
import { startHost } from "./harness.js";
import type { Host } from "../../src/host/host.js";

/** Anything a test starts and must stop when it ends (a Redis server, cluster, sentinel set, ...). */
export interface Stoppable {
  stop(): Promise<unknown>;
}

/** Options of {@link useHost}. */
export interface HostFixtureOptions {
  /** The drain timeout the cleanup passes to `Host.stop` (the Host's default when absent). */
  drainTimeoutMs?: number;
  /** Ignore a `Host.stop` that fails in the cleanup (for tests that break the host's Redis on purpose). */
  ignoreStopErrors?: boolean;
  /** Runs first in the cleanup, before the hosts stop: to undo what would hold up their stop (a paused Redis). */
  beforeStop?: () => unknown;
}

/** What {@link useHost} returns: starts the Bot API and hosts of one test, and stops them after it. */
export interface HostFixture {
  /** Starts the local Bot API of this test (stopped last). */
  startFake(options?: Parameters<typeof LocalBotApi.start>[0]): Promise<LocalBotApi>;
  /** The local Bot API {@link startFake} started in this test; throws when there is none. */
  readonly fake: LocalBotApi;
  /** Starts a Host from `yaml` with the harness' `startHost`, stopped by the cleanup (hosts in reverse order). */
  start(yaml: string): ReturnType<typeof startHost>;
  /** The Host {@link start} started last in this test; throws when there is none. */
  readonly host: Host;
  /** Every Host {@link start} started in this test, in order. */
  readonly hosts: readonly Host[];
  /** Has `resource` stopped after the hosts and before the Bot API (in reverse order of tracking); returns it. */
  track<T extends Stoppable>(resource: T): T;
}

/**
 * Registers (with vitest's `afterEach` of the calling `describe` or file) the cleanup of the hosts, the local
 * Bot API and the other resources a test starts, and returns the handle to start them with. The cleanup runs
 * `beforeStop`, stops the hosts (last started first), then the tracked resources, then the Bot API; a step that
 * fails does not skip the ones after it, and the first failure fails the test.
 */
export function useHost(options: HostFixtureOptions = {}): HostFixture {
  let fake: LocalBotApi | undefined;
  let hosts: Host[] = [];
  let tracked: Stoppable[] = [];

  afterEach(async () => {
    const steps: Array<() => unknown> = [];
    if (options.beforeStop !== undefined) steps.push(options.beforeStop);
    for (const host of hosts.reverse()) {
      steps.push(() => {
        const stopped = host.stop(options.drainTimeoutMs);
        return options.ignoreStopErrors === true ? stopped.catch(() => undefined) : stopped;
      });
    }
    for (const resource of tracked.reverse()) steps.push(() => resource.stop());
    const api = fake;
    if (api !== undefined) steps.push(() => api.stop());
    hosts = [];
    tracked = [];
    fake = undefined;
    const errors: unknown[] = [];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });

  return {
    async startFake(startOptions) {
      if (fake !== undefined) throw new Error("useHost: startFake was already called in this test");
      fake = await LocalBotApi.start(startOptions);
      return fake;
    },
    get fake() {
      if (fake === undefined) throw new Error("useHost: no local Bot API in this test (call startFake first)");
      return fake;
    },
    async start(yaml) {
      const started = await startHost(yaml);
      hosts.push(started.host);
      return started;
    },
    get host() {
      const host = hosts.at(-1);
      if (host === undefined) throw new Error("useHost: no host started in this test (call start first)");
      return host;
    },
    get hosts() {
      return [...hosts];
    },
    track(resource) {
      tracked.push(resource);
      return resource;
    },
  };
}
