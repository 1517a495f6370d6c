import type { Update } from "grammy/types";
import type { UpdateBody } from "./updates.js";

/** The update type: its one field besides `update_id`. */
export function updateTypeOfUpdate(u: Update): string {
  for (const k in u) if (k !== "update_id") return k;
  return "unknown";
}

/** The chat an update belongs to (for per-chat webhook ordering). */
export function chatKeyOfUpdate(u: Update): string {
  const any = u as unknown as Record<string, { chat?: { id: number }; message?: { chat?: { id: number } }; from?: { id: number } } | undefined>;
  const body = any[updateTypeOfUpdate(u)];
  const id = body?.chat?.id ?? body?.message?.chat?.id ?? body?.from?.id;
  return id === undefined ? `u${u.update_id}` : String(id);
}

/**
 * One bot's pending updates, oldest first. An array with a moving head keeps confirming and peeking cheap
 * even with a million updates waiting.
 */
export class BotQueue {
  allowed: Set<string> | undefined;
  private items: Update[] = [];
  private head = 0;
  private readonly skipped = new Set<number>();

  constructor(private nextId: number) {}

  push(body: UpdateBody): number {
    const update_id = this.nextId++;
    this.items.push({ update_id, ...body } as Update);
    return update_id;
  }

  /** Confirms (drops for good) every update with an id below `offset`. */
  confirmBelow(offset: number): void {
    while (this.head < this.items.length && this.items[this.head]!.update_id < offset) this.skipped.delete(this.items[this.head++]!.update_id);
    this.compact();
  }

  /** Negative offsets: keeps only the last `n` updates. */
  keepLast(n: number): void {
    this.head = Math.max(this.head, this.items.length - n);
    this.compact();
  }

  dropAll(): void {
    this.head = this.items.length;
    this.skipped.clear();
    this.compact();
  }

  /** Up to `limit` unconfirmed updates of the allowed types; updates of other types are dropped. */
  peek(limit: number): Update[] {
    const out: Update[] = [];
    for (let i = this.head; i < this.items.length && out.length < limit; i++) {
      const u = this.items[i]!;
      if (this.skipped.has(u.update_id)) continue;
      if (this.allowed !== undefined && !this.allowed.has(updateTypeOfUpdate(u))) {
        this.skipped.add(u.update_id);
        continue;
      }
      out.push(u);
    }
    return out;
  }

  /** Updates neither confirmed nor delivered, oldest first. */
  *undelivered(): Generator<Update> {
    for (let i = this.head; i < this.items.length; i++) {
      const u = this.items[i]!;
      if (!this.skipped.has(u.update_id)) yield u;
    }
  }

  markDelivered(updateId: number): void {
    this.skipped.add(updateId);
    while (this.head < this.items.length && this.skipped.has(this.items[this.head]!.update_id)) {
      this.skipped.delete(this.items[this.head++]!.update_id);
    }
    this.compact();
  }

  pending(): number {
    return this.items.length - this.head - this.skipped.size;
  }

  private compact(): void {
    if (this.head > 10_000 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
