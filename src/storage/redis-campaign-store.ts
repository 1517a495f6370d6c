import type { Redis } from "ioredis";
import { campaignState, type CampaignSpec, type CampaignState, type CampaignStore, type SendOutcome } from "./campaign-store.js";
import type { KeyBuilder } from "./keys.js";

// Each script touches one bot's keys only (its hash tag): one slot of a cluster.
const SCRIPTS = {
  // KEYS: audience, campaigns, todo, stats. ARGV: id, meta JSON without status and total. Snapshots the audience
  // into the recipients; returns how many.
  bhCampaignCreate: {
    keys: 4,
    lua: `
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #members, 1000 do
  redis.call('RPUSH', KEYS[3], unpack(members, i, math.min(i + 999, #members)))
end
local meta = cjson.decode(ARGV[2])
meta.status = 'running'
meta.total = #members
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(meta))
redis.call('HSET', KEYS[4], 'sent', 0, 'blocked', 0, 'failed', 0)
return #members
`,
  },
  // KEYS: todo, inflight. ARGV: how many. Moves up to that many recipients from the front of todo to in flight.
  bhCampaignClaim: {
    keys: 2,
    lua: `
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids then return {} end
redis.call('SADD', KEYS[2], unpack(ids))
return ids
`,
  },
  // KEYS: inflight, stats, audience. ARGV: recipient, outcome. Counts a recipient in flight once.
  bhCampaignSettle: {
    keys: 3,
    lua: `
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if ARGV[2] == 'blocked' then redis.call('ZREM', KEYS[3], ARGV[1]) end
return 1
`,
  },
  // KEYS: inflight, todo. Puts the recipients in flight back at the front of todo.
  bhCampaignResume: {
    keys: 2,
    lua: `
local ids = redis.call('SMEMBERS', KEYS[1])
for _, id in ipairs(ids) do redis.call('LPUSH', KEYS[2], id) end
redis.call('DEL', KEYS[1])
return #ids
`,
  },
  // KEYS: campaigns, todo. ARGV: id, status, now (ms). Ends a campaign (a cancelled one drops what is left).
  bhCampaignFinish: {
    keys: 2,
    lua: `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local meta = cjson.decode(raw)
if meta.status ~= 'running' then return 0 end
meta.status = ARGV[2]
meta.finishedAt = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(meta))
if ARGV[2] == 'cancelled' then redis.call('DEL', KEYS[2]) end
return 1
`,
  },
} as const;

type CampaignRedis = Redis & {
  [name in keyof typeof SCRIPTS]: (...args: Array<string | number>) => Promise<unknown>;
};

/** The campaigns and audiences in Redis (see `keys.ts` for the layout). */
export class RedisCampaignStore implements CampaignStore {
  private readonly redis: CampaignRedis;

  constructor(
    redis: Redis,
    private readonly keys: KeyBuilder,
  ) {
    for (const [name, { keys, lua }] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: keys, lua });
    }
    this.redis = redis as CampaignRedis;
  }

  audienceSize(botId: string): Promise<number> {
    return this.redis.zcard(this.keys.audience(botId));
  }

  async forget(botId: string, chatKey: string): Promise<void> {
    await this.redis.zrem(this.keys.audience(botId), chatKey);
  }

  async create(botId: string, spec: CampaignSpec, now: number): Promise<CampaignState> {
    const k = this.keys;
    const meta = JSON.stringify({ id: spec.id, text: spec.text, parseMode: spec.parseMode, createdAt: now });
    const total = Number(
      await this.redis.bhCampaignCreate(
        k.audience(botId),
        k.campaigns(botId),
        k.campaign(botId, spec.id, "todo"),
        k.campaign(botId, spec.id, "stats"),
        spec.id,
        meta,
      ),
    );
    return campaignState(
      botId,
      { ...spec, status: "running", total, createdAt: now },
      { sent: 0, blocked: 0, failed: 0, left: total, inFlight: 0 },
    );
  }

  async list(botId: string): Promise<CampaignState[]> {
    const all = await this.redis.hgetall(this.keys.campaigns(botId));
    const states = await Promise.all(Object.keys(all).map((id) => this.get(botId, id, all[id])));
    return states.filter((s): s is CampaignState => s !== undefined).sort((a, b) => b.createdAt - a.createdAt);
  }

  async get(botId: string, id: string, raw?: string): Promise<CampaignState | undefined> {
    const k = this.keys;
    const [meta, stats, left, inFlight] = await Promise.all([
      raw ?? this.redis.hget(k.campaigns(botId), id),
      this.redis.hgetall(k.campaign(botId, id, "stats")),
      this.redis.llen(k.campaign(botId, id, "todo")),
      this.redis.scard(k.campaign(botId, id, "inflight")),
    ]);
    if (meta === null || meta === undefined) return undefined;
    const n = (x: string | undefined): number => Number(x ?? 0);
    return campaignState(botId, JSON.parse(meta) as CampaignState, {
      sent: n(stats.sent),
      blocked: n(stats.blocked),
      failed: n(stats.failed),
      left,
      inFlight,
    });
  }

  async claim(botId: string, id: string, n: number): Promise<string[]> {
    const k = this.keys;
    return (await this.redis.bhCampaignClaim(k.campaign(botId, id, "todo"), k.campaign(botId, id, "inflight"), n)) as string[];
  }

  async settle(botId: string, id: string, chatKey: string, outcome: SendOutcome): Promise<void> {
    const k = this.keys;
    await this.redis.bhCampaignSettle(
      k.campaign(botId, id, "inflight"),
      k.campaign(botId, id, "stats"),
      k.audience(botId),
      chatKey,
      outcome,
    );
  }

  async resume(botId: string, id: string): Promise<number> {
    const k = this.keys;
    return Number(await this.redis.bhCampaignResume(k.campaign(botId, id, "inflight"), k.campaign(botId, id, "todo")));
  }

  async finish(botId: string, id: string, status: "done" | "cancelled", now: number): Promise<void> {
    await this.redis.bhCampaignFinish(this.keys.campaigns(botId), this.keys.campaign(botId, id, "todo"), id, status, now);
  }
}
