import {
  campaignState,
  type CampaignSpec,
  type CampaignState,
  type CampaignStatus,
  type CampaignStore,
  type SendOutcome,
} from "./campaign-store.js";

interface MemoryCampaign {
  readonly spec: CampaignSpec;
  readonly total: number;
  readonly createdAt: number;
  status: CampaignStatus;
  finishedAt?: number;
  todo: string[];
  readonly inFlight: Set<string>;
  readonly counts: Record<SendOutcome, number>;
}

/** Campaigns and audiences in process memory (no Redis): they live as long as the process. */
export class MemoryCampaignStore implements CampaignStore {
  private readonly audiences = new Map<string, Map<string, number>>();
  private readonly campaigns = new Map<string, Map<string, MemoryCampaign>>();

  /** A private chat wrote to the bot; `true` when it joined the audience now. */
  see(botId: string, chatKey: string, now: number): boolean {
    let audience = this.audiences.get(botId);
    if (audience === undefined) this.audiences.set(botId, (audience = new Map()));
    const joined = !audience.has(chatKey);
    audience.set(chatKey, now);
    return joined;
  }

  async audienceSize(botId: string): Promise<number> {
    return this.audiences.get(botId)?.size ?? 0;
  }

  async forget(botId: string, chatKey: string): Promise<void> {
    this.audiences.get(botId)?.delete(chatKey);
  }

  private of(botId: string): Map<string, MemoryCampaign> {
    let m = this.campaigns.get(botId);
    if (m === undefined) this.campaigns.set(botId, (m = new Map()));
    return m;
  }

  async create(botId: string, spec: CampaignSpec, now: number): Promise<CampaignState> {
    const todo = [...(this.audiences.get(botId)?.keys() ?? [])];
    const c: MemoryCampaign = {
      spec,
      total: todo.length,
      createdAt: now,
      status: "running",
      todo,
      inFlight: new Set(),
      counts: { sent: 0, blocked: 0, failed: 0 },
    };
    this.of(botId).set(spec.id, c);
    return this.state(botId, c);
  }

  private state(botId: string, c: MemoryCampaign): CampaignState {
    const meta = { ...c.spec, status: c.status, total: c.total, createdAt: c.createdAt, finishedAt: c.finishedAt };
    return campaignState(botId, meta, { ...c.counts, left: c.todo.length, inFlight: c.inFlight.size });
  }

  async list(botId: string): Promise<CampaignState[]> {
    return [...this.of(botId).values()].map((c) => this.state(botId, c)).sort((a, b) => b.createdAt - a.createdAt);
  }

  async get(botId: string, id: string): Promise<CampaignState | undefined> {
    const c = this.of(botId).get(id);
    return c === undefined ? undefined : this.state(botId, c);
  }

  async claim(botId: string, id: string, n: number): Promise<string[]> {
    const c = this.of(botId).get(id);
    if (c === undefined) return [];
    const ids = c.todo.splice(0, n);
    for (const chat of ids) c.inFlight.add(chat);
    return ids;
  }

  async settle(botId: string, id: string, chatKey: string, outcome: SendOutcome): Promise<void> {
    const c = this.of(botId).get(id);
    if (c === undefined || !c.inFlight.delete(chatKey)) return;
    c.counts[outcome]++;
    if (outcome === "blocked") await this.forget(botId, chatKey);
  }

  async resume(botId: string, id: string): Promise<number> {
    const c = this.of(botId).get(id);
    if (c === undefined) return 0;
    const back = [...c.inFlight];
    c.inFlight.clear();
    c.todo.unshift(...back);
    return back.length;
  }

  async finish(botId: string, id: string, status: "done" | "cancelled", now: number): Promise<void> {
    const c = this.of(botId).get(id);
    if (c === undefined || c.status !== "running") return;
    c.status = status;
    c.finishedAt = now;
    if (status === "cancelled") c.todo = [];
  }
}
