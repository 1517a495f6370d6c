import type { Update } from "grammy/types";
import { deadLetterOf, UNKNOWN_ERROR, type DeadLetter, type DeadLetterReason, type DeadLetters } from "./dead-letters.js";
import type { BeginOptions, Begun, CompleteOptions, Journal, JournalState, StateWrite } from "./journal.js";
import type { StateStore } from "./state-store.js";

/** How many finished webhook update ids are remembered per bot to filter redeliveries. */
export const REMEMBERED_UPDATES = 10_000;

interface BotJournal {
  pending: Map<number, Update>;
  watermark: number | undefined;
  /** Recently finished webhook update ids, oldest first (insertion order). */
  done: Set<number>;
  /** Starts of each journaled update, and the last error known of those that did not finish. */
  attempts: Map<number, { n: number; error?: string }>;
  /** The dead letters, by update id. */
  dead: Map<number, DeadLetter>;
}

/** Sessions and plugin state in process memory: what {@link MemoryJournal} commits and the pipeline reads. */
export class MemoryStateStore implements StateStore {
  /** Full key -> serialized value. */
  readonly values = new Map<string, string>();

  async read(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }

  /** Applies an update's writes (the memory side of a commit). */
  apply(writes: readonly StateWrite[]): void {
    for (const { key, value } of writes) {
      if (value === null) this.values.delete(key);
      else this.values.set(key, value);
    }
  }
}

/**
 * The update journal in process memory, for hosts without Redis: nothing survives a restart and nothing is
 * shared between processes (the host logs a warning when it runs this way). It keeps the same contract within
 * the process lifetime: claims filter redeliveries, a commit applies the state writes and drops the entry, and
 * attempts and dead letters are kept as on Redis (its {@link DeadLetters} too).
 */
export class MemoryJournal implements Journal, DeadLetters {
  readonly durable = false;
  readonly recordsOnBegin = true;
  private readonly bots = new Map<string, BotJournal>();

  constructor(
    private readonly state: MemoryStateStore,
    /** Records a private chat in the bot's audience; `true` when it joined now. */
    private readonly see: (botId: string, chatKey: string, now: number) => boolean = () => false,
  ) {}

  private journal(botId: string): BotJournal {
    let j = this.bots.get(botId);
    if (j === undefined) {
      j = { pending: new Map(), watermark: undefined, done: new Set(), attempts: new Map(), dead: new Map() };
      this.bots.set(botId, j);
    }
    return j;
  }

  async load(botId: string): Promise<JournalState> {
    const j = this.journal(botId);
    const pending = [...j.pending.values()].sort((a, b) => a.update_id - b.update_id);
    return { pending, watermark: j.watermark };
  }

  async append(botId: string, updates: readonly Update[]): Promise<void> {
    const j = this.journal(botId);
    for (const u of updates) j.pending.set(u.update_id, u);
    const last = updates[updates.length - 1];
    if (last !== undefined) j.watermark = last.update_id;
  }

  async claim(botId: string, update: Update): Promise<boolean> {
    const j = this.journal(botId);
    if (j.done.has(update.update_id) || j.pending.has(update.update_id)) return false;
    j.pending.set(update.update_id, update);
    return true;
  }

  async complete(botId: string, updateId: number, writes: readonly StateWrite[], options: CompleteOptions = {}): Promise<void> {
    const j = this.journal(botId);
    this.state.apply(writes);
    j.attempts.delete(updateId);
    j.pending.delete(updateId);
    if (options.remember === true) {
      j.done.add(updateId);
      if (j.done.size > REMEMBERED_UPDATES) j.done.delete(j.done.values().next().value as number);
    }
  }

  async begin(botId: string, updateId: number, o: BeginOptions): Promise<Begun> {
    const j = this.journal(botId);
    if (o.record?.as === "append") await this.append(botId, [o.record.update]);
    else if (o.record?.as === "claim" && !(await this.claim(botId, o.record.update))) return { run: false, duplicate: true };
    const made = j.attempts.get(updateId) ?? { n: 0 };
    if (made.n >= o.maxAttempts && j.pending.has(updateId)) {
      return { run: false, letter: this.setAside(botId, j, updateId, "crashed", made.error ?? UNKNOWN_ERROR)! };
    }
    j.attempts.set(updateId, { ...made, n: made.n + 1 });
    const joined = o.audience !== undefined && this.see(botId, o.audience, Date.now());
    return { run: true, attempt: made.n + 1, value: o.read === undefined ? undefined : this.state.values.get(o.read), joined };
  }

  async park(botId: string, updateId: number, reason: DeadLetterReason, error: string): Promise<DeadLetter | undefined> {
    return this.setAside(botId, this.journal(botId), updateId, reason, error);
  }

  private setAside(botId: string, j: BotJournal, updateId: number, reason: DeadLetterReason, error: string): DeadLetter | undefined {
    const update = j.pending.get(updateId);
    if (update === undefined) return undefined;
    const letter = deadLetterOf(botId, update, { attempts: j.attempts.get(updateId)?.n ?? 0, reason, error, at: Date.now() });
    j.dead.set(updateId, letter);
    j.attempts.delete(updateId);
    j.pending.delete(updateId);
    return letter;
  }

  async noteError(botId: string, updateIds: readonly number[], error: string): Promise<void> {
    const j = this.journal(botId);
    for (const id of updateIds) j.attempts.set(id, { n: j.attempts.get(id)?.n ?? 0, error });
  }

  async entry(botId: string, updateId: number): Promise<Update | undefined> {
    return this.journal(botId).pending.get(updateId);
  }

  async list(botId: string): Promise<DeadLetter[]> {
    return [...this.journal(botId).dead.values()].sort((a, b) => a.update.update_id - b.update.update_id);
  }

  async count(botId: string): Promise<number> {
    return this.journal(botId).dead.size;
  }

  async retry(botId: string, updateId: number, maxAttempts: number): Promise<boolean> {
    const j = this.journal(botId);
    const letter = j.dead.get(updateId);
    if (letter === undefined) return false;
    j.dead.delete(updateId);
    j.pending.set(updateId, letter.update);
    j.attempts.set(updateId, { n: maxAttempts - 1 });
    return true;
  }

  async drop(botId: string, updateId: number | "all"): Promise<number> {
    const { dead } = this.journal(botId);
    if (updateId !== "all") return dead.delete(updateId) ? 1 : 0;
    const n = dead.size;
    dead.clear();
    return n;
  }
}
