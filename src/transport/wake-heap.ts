/** A moment at which an `Outbox` looks at a chat again; stale when the chat's version moved on. */
export interface Wake<C> {
  at: number;
  chat: C;
  version: number;
}

/** A binary min-heap of {@link Wake}s by time: the `Outbox`'s timers, one `setTimeout` for all of them. */
export class WakeHeap<C> {
  private readonly h: Array<Wake<C>> = [];

  /** The earliest wake, if any. */
  peek(): Wake<C> | undefined {
    return this.h[0];
  }

  clear(): void {
    this.h.length = 0;
  }

  push(wake: Wake<C>): void {
    const h = this.h;
    let i = h.push(wake) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= wake.at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = wake;
  }

  /** Removes and returns the earliest wake; the heap must not be empty. */
  pop(): Wake<C> {
    const h = this.h;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const c = l + 1 < h.length && h[l + 1]!.at < h[l]!.at ? l + 1 : l;
        if (h[c]!.at >= last.at) break;
        h[i] = h[c]!;
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
