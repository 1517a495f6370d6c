import type { BotView, Session } from "./session.js";

/** A JSON answer of the page's API. */
export interface ApiReply {
  status: number;
  body: unknown;
}

const ok = (body: unknown): ApiReply => ({ status: 200, body });
const bad = (error: string, status = 400): ApiReply => ({ status, body: { error } });

/** A request's mistake, answered 400 with its message. */
class BadRequest extends Error {}

function field<T>(body: unknown, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  if (!check(v)) throw new BadRequest(`${name} must be ${what}`);
  return v;
}
const isText = (v: unknown): v is string => typeof v === "string" && v.trim() !== "" && v.length <= 4096;
const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);
const isIdList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isId);
const isNameList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

function botOf(s: Session, id: string): BotView {
  const bot = s.bots.find((b) => b.id === id && b.enabled);
  if (bot === undefined) throw new BadRequest(`no enabled bot "${id}"`);
  return bot;
}

/** The whole picture for a page that just opened: bots, users, chats with their messages, host and notes. */
function snapshot(s: Session): unknown {
  const world = s.fake.world;
  const chats = world.chats();
  const last = world.events().at(-1)?.seq ?? 0;
  return {
    seq: last,
    notes: s.notes,
    state: s.state,
    admins: s.admins,
    bots: s.bots,
    users: world.users(),
    chats: chats.map((c) => ({ ...c, messages: world.messages(c.key) })),
    host: s.host.status,
  };
}

/**
 * The page's API (`/playground/api/<path>`): reads of the state, and the actions a user takes (create and rename
 * users, open chats and groups, send, press buttons, restart or kill the host). Every mistake is a 400 with a
 * message; nothing a client sends can throw out of here.
 */
export async function handleApi(s: Session, method: string, path: string, q: URLSearchParams, body: unknown): Promise<ApiReply> {
  const world = s.fake.world;
  try {
    if (method === "GET") {
      if (path === "state") return ok(snapshot(s));
      if (path === "chat-state") {
        const bot = botOf(s, q.get("bot") ?? "");
        const chat = world.chats().find((c) => c.key === q.get("chat"));
        if (chat === undefined) throw new BadRequest("no such chat");
        const state = await s.inspector.chat(bot.id, chat.id);
        return ok({ ...state, logs: s.host.recentLines(bot.id, 40) });
      }
      return bad("not found", 404);
    }
    if (method !== "POST") return bad("method not allowed", 405);
    switch (path) {
      case "users":
        return ok(world.addUser(field(body, "name", isText, "a name")));
      case "users/rename":
        return ok(world.renameUser(field(body, "id", isId, "a user id"), field(body, "name", isText, "a name")));
      case "chats/private": {
        const bot = botOf(s, field(body, "bot", isText, "a bot id"));
        return ok(world.privateChat(field(body, "user", isId, "a user id"), bot.telegramId));
      }
      case "chats/group": {
        const bots = field(body, "bots", isNameList, "a list of bot ids").map((id) => botOf(s, id).telegramId);
        return ok(world.createGroup(field(body, "title", isText, "a title"), field(body, "users", isIdList, "a list of user ids"), bots));
      }
      case "send": {
        const replyTo = (body as { reply_to?: unknown }).reply_to;
        const opts = isId(replyTo) ? { replyTo } : {};
        return ok(
          world.send(
            field(body, "user", isId, "a user id"),
            field(body, "chat", isText, "a chat key"),
            field(body, "text", isText, "a text of 1..4096 characters"),
            opts,
          ),
        );
      }
      case "press": {
        const id = world.press(
          field(body, "user", isId, "a user id"),
          field(body, "chat", isText, "a chat key"),
          field(body, "message", isId, "a message id"),
          field(body, "data", (v): v is string => typeof v === "string", "the button's callback data"),
        );
        return ok({ callback_query_id: id });
      }
      case "host/restart":
        s.host.restart().catch(() => undefined);
        return ok(s.host.status);
      case "host/kill":
        s.host.kill().catch(() => undefined);
        return ok(s.host.status);
      default:
        return bad("not found", 404);
    }
  } catch (err) {
    if (err instanceof BadRequest || (err instanceof Error && err.message.startsWith("ChatWorld"))) return bad(err.message);
    throw err;
  }
}
