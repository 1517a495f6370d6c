import type { BotStatus } from "../runtime/bot-runner.js";
import type { StoreHealth } from "../storage/state-store.js";

/** This instance's share of the leased bots, as readiness shows it. */
export interface LeasesView {
  readonly instanceId: string;
  ownedIds(): string[];
  standbyIds(): string[];
  /** Whether this instance cannot reach the Bot API, and the bots it handed over for that reason. */
  reachabilityView(): { cutOff: boolean; givenUp: string[] };
  /** Whether this instance holds its share of the bots, or knows live instances hold the rest. */
  serving(): boolean;
}

/** A read-only snapshot of the host: what `/readyz` answers from and `Host.status()` returns. */
export interface HostStatus {
  /**
   * Every enabled bot here runs, the store takes writes, and no stop began; with leases, this instance also holds
   * its share of the bots (or knows the others hold the rest).
   */
  readonly ready: boolean;
  readonly draining: boolean;
  /** The state store (`redis` or `memory`): whether it takes writes, and why not. */
  readonly store: StoreHealth & { readonly name: string };
  /** The bots this instance runs. */
  readonly bots: readonly BotStatus[];
  /**
   * With leases: this instance, the bots it owns and those other instances own (standby here); whether it is cut
   * off from the Bot API (then it is not ready) and the bots it handed over for that reason.
   */
  readonly leases?: {
    readonly instance: string;
    readonly owned: readonly string[];
    readonly standby: readonly string[];
    readonly cutOff: boolean;
    readonly givenUp: readonly string[];
  };
}

/** `/readyz`'s body: {@link HostStatus} with the bots by id. */
export interface Readiness {
  ready: boolean;
  draining: boolean;
  store: StoreHealth & { name: string };
  /**
   * Per bot: its state, its dead letters (updates set aside; they do not make the host unready) and, while it is
   * failed or retrying, the stable `code` and the `reason` in words.
   */
  bots: Record<string, { state: string; dead_letters: number; code?: string; reason?: string }>;
  leases?: { instance: string; owned: string[]; standby: string[]; cut_off: boolean; given_up: string[] };
}

/** What {@link hostStatus} reads. */
export interface StatusSources {
  /** The bots here; undefined until they can be started (the host is still starting). */
  bots(): readonly BotStatus[] | undefined;
  store: { readonly name: string; health(): StoreHealth };
  draining(): boolean;
  leases: LeasesView | undefined;
}

/** The host's status now. */
export function hostStatus(s: StatusSources): HostStatus {
  const bots = s.bots();
  const health = s.store.health();
  const draining = s.draining();
  const reach = s.leases?.reachabilityView();
  const ready =
    bots !== undefined &&
    bots.every((b) => b.state === "running") &&
    health.ok &&
    !draining &&
    reach?.cutOff !== true &&
    s.leases?.serving() !== false;
  const status = { ready, draining, store: { name: s.store.name, ...health }, bots: bots ?? [] };
  const { leases } = s;
  if (leases === undefined || reach === undefined) return status;
  const view = { instance: leases.instanceId, owned: leases.ownedIds(), standby: leases.standbyIds(), ...reach };
  return { ...status, leases: view };
}

/** The body of `/readyz` for `status`. */
export function readinessOf(status: HostStatus): Readiness {
  const bots: Readiness["bots"] = {};
  for (const b of status.bots) {
    const bot = { state: b.state, dead_letters: b.deadLetters };
    bots[b.id] = b.problem === undefined ? bot : { ...bot, code: b.problem.code, reason: b.problem.message };
  }
  const body: Readiness = { ready: status.ready, draining: status.draining, store: { ...status.store }, bots };
  const { leases } = status;
  if (leases !== undefined) {
    body.leases = {
      instance: leases.instance,
      owned: [...leases.owned],
      standby: [...leases.standby],
      cut_off: leases.cutOff,
      given_up: [...leases.givenUp],
    };
  }
  return body;
}
