// What the page knows: a copy of the world (users, chats, messages), loaded from /api/state and kept current by events.
export const view = {
  data: null, // { bots, users, chats: [{ ..., messages }], host, notes, state, admins, seq }
  me: Number(localStorage.getItem("playground.me")) || undefined,
  chat: undefined, // key of the open chat
  replyTo: undefined,
  unread: new Map(),
  typing: new Map(), // bot id -> timer, in the open chat
};

/** The bot (as listed in the file) with this Telegram id. */
export const botById = (tgId) => view.data.bots.find((b) => b.telegramId === tgId);
