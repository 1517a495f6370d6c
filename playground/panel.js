// The side panel: the open chat's state for one bot, as the host stores it (session and plugin state in Redis,
// the bot's journal length), the bot's updates in flight (the host's /metrics) and the host's recent log lines.
import { h } from "./render.js";
import { botById, view } from "./state.js";

const $ = (id) => document.getElementById(id);
let timer;
let seq = 0;

/** Refreshes the panel soon (several events in a burst make one request). */
export function schedulePanel() {
  clearTimeout(timer);
  timer = setTimeout(refreshPanel, 150);
}

function panelBots(chat) {
  const select = $("panel-bot");
  const bots = chat.bots.map(botById).filter(Boolean);
  const current = select.value;
  if (select.options.length !== bots.length || [...select.options].some((o, i) => o.value !== bots[i].id)) {
    select.replaceChildren(...bots.map((b) => h("option", { value: b.id }, b.name)));
    if (bots.some((b) => b.id === current)) select.value = current;
  }
  select.hidden = bots.length < 2;
  return select.value;
}

const LEVEL = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

function logLine(l) {
  const when = new Date(typeof l.time === "number" ? l.time : Date.now()).toTimeString().slice(0, 8);
  const extra = ["update_id", "err", "outcome", "updates"]
    .filter((k) => l[k] !== undefined)
    .map((k) => `${k}=${typeof l[k] === "object" ? (l[k].message ?? JSON.stringify(l[k])) : l[k]}`);
  return h(
    "li",
    { class: LEVEL[l.level] ?? "info" },
    h("span", { class: "muted" }, `${when} `),
    l.msg ?? "",
    extra.length ? h("span", { class: "muted" }, ` ${extra.join(" ")}`) : null,
  );
}

/** Loads and shows the state of the open chat for the selected bot. */
export async function refreshPanel() {
  clearTimeout(timer);
  const chat = view.chat === undefined ? undefined : view.data.chats.find((c) => c.key === view.chat);
  if (chat === undefined) {
    $("panel-bot").replaceChildren();
    for (const id of ["session", "plugins", "journal", "inflight", "deadletters", "campaign"]) $(id).textContent = "–";
    $("logs").replaceChildren();
    $("panel-notes").textContent = "Open a chat to see its state.";
    return;
  }
  const bot = panelBots(chat);
  const mine = ++seq;
  let s;
  try {
    const res = await fetch(`/playground/api/chat-state?bot=${encodeURIComponent(bot)}&chat=${encodeURIComponent(chat.key)}`);
    s = await res.json();
    if (!res.ok) throw new Error(s.error);
  } catch (err) {
    if (mine === seq) $("panel-notes").textContent = err.message;
    return;
  }
  if (mine !== seq) return; // a newer refresh is on its way
  $("session").textContent = s.session === undefined ? "(in memory)" : JSON.stringify(s.session, null, 2);
  $("plugins").textContent =
    s.plugins === undefined ? "(in memory)" : Object.keys(s.plugins).length === 0 ? "none" : JSON.stringify(s.plugins, null, 2);
  $("journal").textContent = s.journal === undefined ? "–" : String(s.journal);
  $("inflight").textContent = s.inFlight === undefined ? "–" : String(s.inFlight);
  $("deadletters").textContent = s.deadLetters === undefined ? "–" : String(s.deadLetters);
  const c = s.campaign;
  $("campaign").textContent =
    c === undefined
      ? "–"
      : `${c.id} ${c.status}: sent ${c.sent}, blocked ${c.blocked}, failed ${c.failed}, left ${c.left + c.inFlight} of ${c.total}`;
  $("panel-notes").textContent = s.notes.join("; ");
  $("logs").replaceChildren(...s.logs.slice(-25).reverse().map(logLine));
}

setInterval(() => document.visibilityState === "visible" && refreshPanel(), 2000);
