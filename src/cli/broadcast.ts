import type { HostSettings } from "../config/settings.js";
import { ExitCodes } from "../errors.js";
import type { CampaignState, CampaignStore } from "../storage/campaign-store.js";
import type { OperatorChannel } from "../storage/operator-channel.js";
import { operatorSettings, withOperatorRedis } from "./operator-redis.js";

/** What `bot-host broadcast` was asked to do. */
export type BroadcastCommand =
  | {
      readonly action: "send";
      /** One bot's id, or undefined with `all`. */
      readonly bot: string | undefined;
      readonly all: boolean;
      readonly text: string;
      readonly parseMode: "HTML" | "MarkdownV2" | undefined;
      readonly detach: boolean;
    }
  | { readonly action: "status" | "cancel"; readonly id: string | undefined };

const FOLLOW_EVERY_MS = 500;

/**
 * `bot-host broadcast`: hands a campaign (one message to every private chat that wrote to a bot, or to each of
 * every bot) to the running host(s) through Redis, and follows it until every recipient was tried; `status` and
 * `cancel` look at and stop campaigns. Needs Redis: a campaign outlives the process that runs it.
 */
export async function runBroadcast(opts: { config: string }, command: BroadcastCommand): Promise<number> {
  const settings = await operatorSettings(opts.config, "a broadcast campaign is kept in Redis (it outlives a restart), so it needs one");
  if (typeof settings === "number") return settings;
  const enabled = settings.bots.filter((b) => b.enabled).map((b) => b.id);
  if (command.action === "send" && command.bot !== undefined && !enabled.includes(command.bot)) {
    process.stderr.write(`${opts.config}: no enabled bot "${command.bot}" (enabled bots: ${enabled.join(", ")})\n`);
    return ExitCodes.CONFIG;
  }
  const { RedisCampaignStore } = await import("../storage/redis-campaign-store.js");
  return withOperatorRedis(settings, "the campaigns", async ({ redis, keys, channel }) => {
    const store = new RedisCampaignStore(redis, keys);
    if (command.action === "send") {
      const bots = command.all ? enabled : [command.bot!];
      return send(store, channel, bots, command);
    }
    return statusOrCancel(settings, store, channel, command);
  });
}

async function send(
  store: CampaignStore,
  channel: OperatorChannel,
  bots: readonly string[],
  c: Extract<BroadcastCommand, { action: "send" }>,
): Promise<number> {
  const id = `c${Date.now().toString(36)}`;
  const created = await Promise.all(bots.map((bot) => store.create(bot, { id, text: c.text, parseMode: c.parseMode }, Date.now())));
  const heard = await Promise.all(bots.map((bot) => channel.publish({ kind: "campaign", botId: bot, id })));
  const total = created.reduce((n, s) => n + s.total, 0);
  process.stdout.write(`campaign ${id}: ${total} recipient(s) over ${bots.length} bot(s)\n`);
  if (heard.some((n) => n === 0)) process.stdout.write("no running host heard of it yet: each bot runs it when it starts\n");
  if (c.detach) return ExitCodes.OK;
  const t0 = Date.now();
  const tty = process.stdout.isTTY === true;
  let lastLine = 0;
  for (;;) {
    const states = (await Promise.all(bots.map((bot) => store.get(bot, id)))).filter((s): s is CampaignState => s !== undefined);
    const sum = (k: "sent" | "blocked" | "failed" | "left" | "inFlight"): number => states.reduce((n, s) => n + s[k], 0);
    const tried = sum("sent") + sum("blocked") + sum("failed");
    const seconds = (Date.now() - t0) / 1000;
    const rate = seconds > 0 ? tried / seconds : 0;
    const left = sum("left") + sum("inFlight");
    const eta = rate > 0 ? `${Math.ceil(left / rate)} s` : "-";
    const running = states.some((s) => s.status === "running");
    const line = `${bar(total === 0 ? 1 : tried / total)} sent ${sum("sent")}, blocked ${sum("blocked")}, failed ${sum("failed")}, left ${left}, ${rate.toFixed(1)}/s, ETA ${eta}`;
    if (tty) process.stdout.write(`\r${line}\u001b[K`);
    else if (!running || Date.now() - lastLine >= 2_000) {
      process.stdout.write(`${line}\n`);
      lastLine = Date.now();
    }
    if (!running) {
      const status = states.every((s) => s.status === "done") ? "finished" : "ended (cancelled)";
      process.stdout.write(
        `${tty ? "\n" : ""}campaign ${id} ${status}: sent ${sum("sent")}, blocked ${sum("blocked")}, failed ${sum("failed")} of ${total}\n`,
      );
      return ExitCodes.OK;
    }
    await new Promise((r) => setTimeout(r, FOLLOW_EVERY_MS));
  }
}

async function statusOrCancel(
  settings: HostSettings,
  store: CampaignStore,
  channel: OperatorChannel,
  c: Extract<BroadcastCommand, { action: "status" | "cancel" }>,
): Promise<number> {
  const all = (await Promise.all(settings.bots.map((b) => store.list(b.id)))).flat();
  const chosen = all.filter((s) => c.id === undefined || s.id === c.id);
  if (c.action === "status") {
    if (chosen.length === 0) {
      process.stdout.write(c.id === undefined ? "no campaigns\n" : `no campaign ${c.id}\n`);
      return c.id === undefined ? ExitCodes.OK : ExitCodes.RUNTIME;
    }
    for (const s of chosen) {
      process.stdout.write(
        `${s.id}  ${s.botId}  ${s.status}  total ${s.total}, sent ${s.sent}, blocked ${s.blocked}, failed ${s.failed}, left ${s.left + s.inFlight}  ${new Date(s.createdAt).toISOString()}\n`,
      );
    }
    return ExitCodes.OK;
  }
  const running = chosen.filter((s) => s.status === "running");
  const ids = new Set(running.map((s) => s.id));
  if (ids.size !== 1) {
    process.stderr.write(ids.size === 0 ? "no running campaign to cancel\n" : `several campaigns run (${[...ids].join(", ")}): name one\n`);
    return ExitCodes.RUNTIME;
  }
  for (const s of running) {
    await store.finish(s.botId, s.id, "cancelled", Date.now());
    await channel.publish({ kind: "campaign", botId: s.botId, id: s.id });
  }
  process.stdout.write(`cancelled campaign ${[...ids][0]} on ${running.length} bot(s)\n`);
  return ExitCodes.OK;
}

function bar(done: number): string {
  const width = 20;
  const full = Math.round(Math.min(1, done) * width);
  return `[${"#".repeat(full)}${".".repeat(width - full)}] ${Math.floor(Math.min(1, done) * 100)}%`;
}
