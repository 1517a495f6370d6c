import type { Update } from "grammy/types";
import type { CachedBotInfo, JournalState, StateWrite, StateStore, StoreHealth } from "./state-store.js";

interface MemoryJournal {
  pending: Map<number, Update>;
  watermark: number | undefined;
  /** Recently finished webhook update ids, oldest first (insertion order). */
  done: Set<number>;
}

/** How many finished webhook update ids are remembered per bot to filter redeliveries. */
export const REMEMBERED_UPDATES = 10_000;

/**
 * In-process state for hosts without Redis. Nothing survives a restart and nothing is shared between processes:
 * the host logs a warning when it uses this store.
 */
export class MemoryStateStore implements StateStore {
  readonly durable = false;
  readonly name = "memory";
  private readonly values = new Map<string, string>();
  private readonly journals = new Map<string, MemoryJournal>();
  private readonly botInfos = new Map<string, CachedBotInfo>();

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  health(): StoreHealth {
    return { ok: true };
  }

  connection(): undefined {
    return undefined;
  }

  async read(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }

  private journal(botId: string): MemoryJournal {
    let j = this.journals.get(botId);
    if (j === undefined) {
      j = { pending: new Map(), watermark: undefined, done: new Set() };
      this.journals.set(botId, j);
    }
    return j;
  }

  async loadJournal(botId: string): Promise<JournalState> {
    const j = this.journal(botId);
    const pending = [...j.pending.values()].sort((a, b) => a.update_id - b.update_id);
    return { pending, watermark: j.watermark };
  }

  async appendJournal(botId: string, updates: readonly Update[]): Promise<void> {
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

  async complete(botId: string, updateId: number, writes: readonly StateWrite[], remember = false): Promise<void> {
    const j = this.journal(botId);
    j.pending.delete(updateId);
    if (remember) {
      j.done.add(updateId);
      if (j.done.size > REMEMBERED_UPDATES) j.done.delete(j.done.values().next().value as number);
    }
    for (const { key, value } of writes) {
      if (value === null) this.values.delete(key);
      else this.values.set(key, value);
    }
  }

  async getBotInfo(telegramBotId: string): Promise<CachedBotInfo | undefined> {
    return this.botInfos.get(telegramBotId);
  }

  async setBotInfo(telegramBotId: string, value: CachedBotInfo): Promise<void> {
    this.botInfos.set(telegramBotId, value);
  }
}
