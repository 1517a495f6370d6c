import { canonicalMethod } from "./known-methods.js";
import { strArg } from "./params.js";
import type { CallRecord, Params, SentRecord } from "./types.js";

interface TokenLog {
  calls: CallRecord[];
  counts: Map<string, number>;
  sent: SentRecord[];
  sentCount: number;
}

/** The calls and sent messages of every token; with `record` false only the counters. */
export class CallLog {
  private readonly logs = new Map<string, TokenLog>();
  private readonly all: CallRecord[] = [];

  constructor(private readonly record: boolean) {}

  /** Counts a call and, when recording, keeps it; the record's status is set when it is answered. */
  add(token: string, method: string, params: Params, at: number): CallRecord | undefined {
    const log = this.of(token);
    log.counts.set(method, (log.counts.get(method) ?? 0) + 1);
    if (!this.record) return undefined;
    const rec: CallRecord = { token, method, params, at, status: 0 };
    log.calls.push(rec);
    this.all.push(rec);
    return rec;
  }

  /** Notes a successful sendMessage / editMessageText. */
  addSent(token: string, method: SentRecord["method"], params: Params, messageId: number, at: number): void {
    const log = this.of(token);
    log.sentCount++;
    if (!this.record) return;
    const raw = params.chat_id;
    const chatId = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : (raw as number | string);
    const rec: SentRecord = { method, chat_id: chatId, message_id: messageId, text: strArg(params.text) ?? "", at };
    const markup = params.reply_markup;
    if (markup !== undefined) rec.reply_markup = typeof markup === "string" ? JSON.parse(markup) : markup;
    log.sent.push(rec);
  }

  calls(token?: string): CallRecord[] {
    return token === undefined ? [...this.all] : [...(this.logs.get(token)?.calls ?? [])];
  }

  callCount(token: string, method: string): number {
    return this.logs.get(token)?.counts.get(canonicalMethod(method) ?? method) ?? 0;
  }

  sent(token: string): SentRecord[] {
    return [...(this.logs.get(token)?.sent ?? [])];
  }

  sentCount(token: string): number {
    return this.logs.get(token)?.sentCount ?? 0;
  }

  private of(token: string): TokenLog {
    let log = this.logs.get(token);
    if (log === undefined) this.logs.set(token, (log = { calls: [], counts: new Map(), sent: [], sentCount: 0 }));
    return log;
  }
}
