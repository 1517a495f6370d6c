import type { Update } from "grammy/types";
import type { UpdateBody } from "./types.js";

/** One update in a bot's queue. */
export interface QueuedUpdate {
  readonly update: Update;
  /** The update's type: its one field besides `update_id` (`message`, `callback_query`, ...). */
  readonly type: string;
  /** Webhook ordering key: updates with the same key are delivered one after another (chat, else sender). */
  readonly key: string;
  /** Delivered or skipped out of order (entries before the queue head are gone whatever this says). */
  dead: boolean;
}

/** Compact the backing array once this many confirmed entries sit before the head (and they are half of it). */
const COMPACT_AT = 4096;

/**
 * A bot's pending updates, like Telegram's update queue: update ids are assigned in order, one after another, and
 * entry `i` of the backing array always holds update `base + i`, so confirming by offset moves a head index in
 * O(1) instead of scanning or splicing. Entries removed out of order (a webhook delivery, an update of a type the
 * bot did not ask for) are marked dead and skipped; the head steps over dead entries.
 */
export class UpdateQueue {
  private items: QueuedUpdate[] = [];
  /** update_id of items[0]. */
  private base: number;
  /** Index of the first entry that may be pending. */
  private head = 0;
  /** Dead entries at or after the head. */
  private deadAhead = 0;
  private next: number;

  constructor(firstUpdateId: number) {
    this.base = firstUpdateId;
    this.next = firstUpdateId;
  }

  /** Pending (unconfirmed) updates. */
  get size(): number {
    return this.items.length - this.head - this.deadAhead;
  }

  /** The id the next update gets (Telegram's queue tail). */
  get nextId(): number {
    return this.next;
  }

  /** The id of the first entry that may be pending (the queue head). */
  get headId(): number {
    return this.base + this.head;
  }

  /** Appends an update, assigning the next update_id. */
  push(body: UpdateBody): QueuedUpdate {
    const id = this.next++;
    const update = { update_id: id, ...body } as Update;
    update.update_id = id;
    let type = "unknown";
    for (const k in body) {
      if (k !== "update_id") {
        type = k;
        break;
      }
    }
    const entry: QueuedUpdate = { update, type, key: orderKey(body, type, id), dead: false };
    this.items.push(entry);
    return entry;
  }

  /** Confirms (forgets) every update with an id below `id`. */
  dropBefore(id: number): void {
    const to = Math.min(id - this.base, this.items.length);
    if (to <= this.head) return;
    if (this.deadAhead > 0) {
      for (let i = this.head; i < to; i++) if (this.items[i]!.dead) this.deadAhead--;
    }
    this.head = to;
    this.skipDead();
    this.maybeCompact();
  }

  /** Forgets all but the last `n` pending updates (a negative getUpdates offset). */
  keepLast(n: number): void {
    let kept = 0;
    let i = this.items.length;
    while (i > this.head && kept < n) {
      i--;
      if (!this.items[i]!.dead) kept++;
    }
    if (kept === n) this.dropBefore(this.base + i);
  }

  /** Forgets every pending update. */
  clear(): void {
    this.dropBefore(this.next);
  }

  /** Whether an update is still pending (not confirmed, delivered nor skipped). */
  isPending(entry: QueuedUpdate): boolean {
    return !entry.dead && entry.update.update_id - this.base >= this.head;
  }

  /** Marks one update as no longer pending (delivered by webhook, or skipped). */
  kill(entry: QueuedUpdate): void {
    if (!this.isPending(entry)) return;
    entry.dead = true;
    this.deadAhead++;
    this.skipDead();
    this.maybeCompact();
  }

  /**
   * Up to `limit` pending updates from the head on, in order. Updates whose type `wanted` rejects are skipped and
   * forgotten, like Telegram never queues updates a bot did not ask for.
   */
  take(limit: number, wanted: (type: string) => boolean): Update[] {
    const out: Update[] = [];
    const items = this.items;
    for (let i = this.head; i < items.length && out.length < limit; i++) {
      const e = items[i]!;
      if (e.dead) continue;
      if (wanted(e.type)) out.push(e.update);
      else {
        e.dead = true;
        this.deadAhead++;
      }
    }
    this.skipDead();
    return out;
  }

  /** Calls `fn` for every pending update, in order. */
  forEachPending(fn: (entry: QueuedUpdate) => void): void {
    for (let i = this.head; i < this.items.length; i++) {
      const e = this.items[i]!;
      if (!e.dead) fn(e);
    }
  }

  private skipDead(): void {
    const items = this.items;
    while (this.head < items.length && items[this.head]!.dead) {
      this.head++;
      this.deadAhead--;
    }
  }

  private maybeCompact(): void {
    if (this.head < COMPACT_AT || this.head * 2 < this.items.length) return;
    this.items = this.items.slice(this.head);
    this.base += this.head;
    this.head = 0;
  }
}

/** The chat (else the user) an update belongs to, for per-chat webhook ordering; else a key of its own. */
function orderKey(body: UpdateBody, type: string, id: number): string {
  const v = (body as Record<string, unknown>)[type] as
    { chat?: { id?: number }; message?: { chat?: { id?: number } }; from?: { id?: number }; user?: { id?: number } } | undefined;
  const chat = v?.chat?.id ?? v?.message?.chat?.id;
  if (chat !== undefined) return `c${chat}`;
  const user = v?.from?.id ?? v?.user?.id;
  if (user !== undefined) return `u${user}`;
  return `i${id}`;
}
