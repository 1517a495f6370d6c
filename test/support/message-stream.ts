import type { LocalBotApi } from "./fake-bot-api.js";
import { message } from "./updates.js";

/** A steady stream of messages over every bot and chat, each with a unique label the counter app echoes. */
export class MessageStream {
  readonly perChat = new Map<string, number>();
  readonly labels: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private n = 0;

  /** `chats` chats per bot, numbered from `firstChat`; labels are `<label><n>`. */
  constructor(
    private readonly fake: LocalBotApi,
    private readonly bots: ReadonlyArray<{ id: string; token: string }>,
    private readonly chats: number,
    private readonly o: { firstChat?: number; label?: string } = {},
  ) {}

  start(everyMs = 25): void {
    this.timer = setInterval(() => this.send(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private send(): void {
    const b = this.bots[this.n % this.bots.length]!;
    const chat = (this.o.firstChat ?? 700) + (Math.floor(this.n / this.bots.length) % this.chats);
    const label = `${this.o.label ?? "s"}${this.n++}`;
    this.labels.push(label);
    this.perChat.set(`${b.id}:${chat}`, (this.perChat.get(`${b.id}:${chat}`) ?? 0) + 1);
    this.fake.inject(b.token, message(chat, label));
  }

  /** How often each label was answered (the counter app replies `<bot>|<user>|<count>|<label>`). */
  answers(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const b of this.bots) {
      for (const s of this.fake.sent(b.token)) {
        const parts = s.text.split("|");
        if (parts.length === 4) counts.set(parts[3]!, (counts.get(parts[3]!) ?? 0) + 1);
      }
    }
    return counts;
  }

  /** Waits until every label sent so far was answered at least once. */
  async allAnswered(timeoutMs = 30_000): Promise<void> {
    await this.fake.waitFor(
      () => {
        const a = this.answers();
        return this.labels.every((l) => (a.get(l) ?? 0) >= 1);
      },
      timeoutMs,
      "every label answered",
    );
  }

  /** Waits until `n` more labels than now were answered: the overlap of two instances lasts that long. */
  async progress(n: number, timeoutMs = 30_000): Promise<void> {
    const base = this.answers().size;
    await this.fake.waitFor(() => this.answers().size >= base + n, timeoutMs, `${n} more answers`);
  }

  /** The longest pause between two replies of one bot while the stream ran (ms). */
  longestGap(): number {
    let gap = 0;
    for (const b of this.bots) {
      const at = this.fake
        .sent(b.token)
        .map((s) => s.at)
        .sort((x, y) => x - y);
      for (let i = 1; i < at.length; i++) gap = Math.max(gap, at[i]! - at[i - 1]!);
    }
    return gap;
  }
}
