import type { Update } from "grammy/types";
import type { CompleteOptions, Journal, JournalState, StateWrite } from "./journal.js";
import type { StateStore } from "./state-store.js";

/** How many finished webhook update ids are remembered per bot to filter redeliveries. */
export const REMEMBERED_UPDATES = 10_000;

interface BotJournal {
  pending: Map<number, Update>;
  watermark: number | undefined;
  /** Recently finished webhook update ids, oldest first (insertion order). */
  done: Set<number>;
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
 * the process lifetime: claims filter redeliveries, and a commit applies the state writes and drops the entry.
 */
export class MemoryJournal implements Journal {
  readonly durable = false;
  private readonly bots = new Map<string, BotJournal>();

  constructor(private readonly state: MemoryStateStore) {}

  private journal(botId: string): BotJournal {
    let j = this.bots.get(botId);
    if (j === undefined) {
      j = { pending: new Map(), watermark: undefined, done: new Set() };
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
    j.pending.delete(updateId);
    if (options.remember === true) {
      j.done.add(updateId);
      if (j.done.size > REMEMBERED_UPDATES) j.done.delete(j.done.values().next().value as number);
    }
  }
}
