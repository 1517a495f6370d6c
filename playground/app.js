// The playground page: simulated users chat with the bots of bots.yaml through the local Bot API; the page's copy
// of the world (state.js) is loaded once from /api/state and kept current by Server-Sent Events.
import { h, messageView } from "./render.js";
import { refreshPanel, schedulePanel } from "./panel.js";
import { botById, view } from "./state.js";

const API = "/playground/api/";
const $ = (id) => document.getElementById(id);

async function api(path, body) {
  const res = await fetch(
    API + path,
    body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
  );
  const json = await res.json();
  if (!res.ok) throw new Error(json.error ?? res.statusText);
  return json;
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 3000);
}
const fail = (err) => toast(`⚠ ${err.message}`);

const userById = (id) => view.data.users.find((u) => u.id === id);
const chatByKey = (key) => view.data.chats.find((c) => c.key === key);
const senderName = (from) => (from.kind === "bot" ? (botById(from.id)?.name ?? "bot") : (userById(from.id)?.first_name ?? "user"));

function chatTitle(c) {
  if (c.type === "private")
    return view.data.admins.includes(c.users[0]) && c.users[0] !== view.me ? `${c.title} · ${userById(c.users[0])?.first_name}` : c.title;
  return c.title;
}

// --- rendering -------------------------------------------------------------------------------------------------

function renderHeader() {
  const { host, state, notes } = view.data;
  const s = $("host-state");
  s.textContent = host.state;
  s.dataset.state = host.state;
  s.dataset.starts = String(host.starts);
  $("host-info").textContent = [
    host.pid ? `pid ${host.pid}` : "",
    host.starts > 1 ? `start #${host.starts}` : "",
    host.lastExit ? `last exit: ${host.lastExit}` : "",
  ]
    .filter(Boolean)
    .join(" · ");
  $("store").textContent = state === "redis" ? "state in Redis" : "state in memory";
  $("store").className = `badge ${state}`;
  $("notes").replaceChildren(...notes.map((n) => h("li", {}, n)));
}

function renderSidebar() {
  const { users, bots, chats } = view.data;
  if (!users.some((u) => u.id === view.me)) view.me = (users.find((u) => !view.data.admins.includes(u.id)) ?? users[0])?.id;
  $("user").replaceChildren(
    ...users.map((u) =>
      h("option", { value: u.id, selected: u.id === view.me }, `${u.first_name}${view.data.admins.includes(u.id) ? " (admin)" : ""}`),
    ),
  );
  $("bots").replaceChildren(
    ...bots.map((b) =>
      h(
        "li",
        { class: b.enabled ? "" : "disabled" },
        b.enabled
          ? h("button", { type: "button", class: "link", onclick: () => openPrivate(b.id) }, h("strong", {}, b.name), ` @${b.username}`)
          : h("span", { title: "enabled: false in bots.yaml" }, `${b.name} (disabled)`),
      ),
    ),
  );
  const mine = chats.filter((c) => c.users.includes(view.me));
  $("chats").replaceChildren(
    ...mine.map((c) => {
      const n = view.unread.get(c.key) ?? 0;
      return h(
        "li",
        { class: c.key === view.chat ? "active" : "" },
        h(
          "button",
          { type: "button", class: "link", dataset: { chat: c.key }, onclick: () => openChat(c.key) },
          h("span", { class: `avatar ${c.type}` }, c.title.charAt(0).toUpperCase()),
          c.type === "group" ? `${c.title} (group)` : c.title,
          n > 0 ? h("span", { class: "unread" }, String(n)) : null,
        ),
      );
    }),
  );
  const keep = (id) => document.querySelector(`#${id}`)?.checked;
  $("group-users").replaceChildren(
    ...users.map((u) => {
      const me = u.id === view.me; // the one who creates a group is in it
      return h(
        "label",
        {},
        h("input", { type: "checkbox", value: u.id, id: `gu-${u.id}`, checked: me || keep(`gu-${u.id}`), disabled: me }),
        me ? `${u.first_name} (you)` : u.first_name,
      );
    }),
  );
  $("group-bots").replaceChildren(
    ...bots
      .filter((b) => b.enabled)
      .map((b) => h("label", {}, h("input", { type: "checkbox", value: b.id, id: `gb-${b.id}`, checked: keep(`gb-${b.id}`) }), b.name)),
  );
}

function renderChat() {
  const c = view.chat === undefined ? undefined : chatByKey(view.chat);
  $("text").disabled = $("send").disabled = c === undefined;
  if (c === undefined) {
    $("chat-title").textContent = "Pick a bot or a chat on the left";
    $("chat-members").textContent = "";
    $("messages").replaceChildren();
    return;
  }
  $("chat-title").textContent = chatTitle(c);
  $("chat-members").textContent =
    c.type === "group"
      ? ` · ${[...c.users.map((u) => userById(u)?.first_name), ...c.bots.map((b) => botById(b)?.name)].join(", ")}`
      : ` · private chat of ${userById(c.users[0])?.first_name}, chat id ${c.id}`;
  const ctx = {
    me: view.me,
    group: c.type === "group",
    senderName,
    findMessage: (id) => c.messages.find((m) => m.id === id),
    onPress: press,
    onReply: (m) => setReply(m),
    onCommand: (cmd) => (($("text").value = `${cmd} `), $("text").focus()),
  };
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...c.messages.map((m) => messageView(m, ctx)));
  if (atBottom || renderChat.forceScroll) box.scrollTop = box.scrollHeight;
  renderChat.forceScroll = false;
  renderTyping();
}

function renderTyping() {
  const names = [...view.typing.keys()].map((id) => botById(id)?.name ?? "bot");
  $("typing").hidden = names.length === 0;
  $("typing").textContent = names.length === 0 ? "" : `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…`;
}

function renderAll() {
  renderHeader();
  renderSidebar();
  renderChat();
  refreshPanel();
}

// --- actions ---------------------------------------------------------------------------------------------------

function openChat(key) {
  view.chat = key;
  view.replyTo = undefined;
  $("reply-bar").hidden = true;
  view.unread.delete(key);
  view.typing.clear();
  renderChat.forceScroll = true;
  renderSidebar();
  renderChat();
  refreshPanel();
  $("text").focus();
}

async function openPrivate(botId) {
  try {
    const chat = await api("chats/private", { user: view.me, bot: botId });
    if (!chatByKey(chat.key)) view.data.chats.push({ ...chat, messages: [] });
    openChat(chat.key);
  } catch (err) {
    fail(err);
  }
}

async function press(m, button, el) {
  el.classList.add("pressed");
  try {
    await api("press", { user: view.me, chat: view.chat, message: m.id, data: button.callback_data });
  } catch (err) {
    el.classList.remove("pressed");
    fail(err);
  }
}

function setReply(m) {
  view.replyTo = m.id;
  $("reply-text").textContent = `Reply to ${senderName(m.from)}: ${(m.text ?? "").slice(0, 60)}`;
  $("reply-bar").hidden = false;
  $("text").focus();
}

$("reply-cancel").addEventListener("click", () => ((view.replyTo = undefined), ($("reply-bar").hidden = true)));

$("composer").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("text").value;
  if (text.trim() === "" || view.chat === undefined) return;
  const body = { user: view.me, chat: view.chat, text };
  if (view.replyTo !== undefined) body.reply_to = view.replyTo;
  $("text").value = "";
  view.replyTo = undefined;
  $("reply-bar").hidden = true;
  renderChat.forceScroll = true;
  await api("send", body).catch((err) => (($("text").value = text), fail(err)));
});

$("user").addEventListener("change", () => {
  view.me = Number($("user").value);
  localStorage.setItem("playground.me", String(view.me));
  const c = view.chat && chatByKey(view.chat);
  if (!c || !c.users.includes(view.me)) view.chat = undefined;
  renderSidebar();
  renderChat();
  refreshPanel();
});

$("user-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("new-user").value.trim();
  if (name === "") return;
  try {
    const u = await api("users", { name });
    $("new-user").value = "";
    if (!userById(u.id)) view.data.users.push(u);
    view.me = u.id;
    localStorage.setItem("playground.me", String(u.id));
    view.chat = undefined;
    renderSidebar();
    renderChat();
  } catch (err) {
    fail(err);
  }
});

$("rename-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("rename-name").value.trim();
  if (name === "") return;
  await api("users/rename", { id: view.me, name }).then(() => ($("rename-name").value = ""), fail);
});

$("group-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const users = [...new Set([view.me, ...[...document.querySelectorAll("#group-users input:checked")].map((i) => Number(i.value))])];
  const bots = [...document.querySelectorAll("#group-bots input:checked")].map((i) => i.value);
  const title = $("group-title").value.trim() || "Group";
  try {
    const chat = await api("chats/group", { title, users, bots });
    $("group-title").value = "";
    document.querySelectorAll("#group-form input:checked:not(:disabled)").forEach((i) => (i.checked = false));
    if (!chatByKey(chat.key)) view.data.chats.push({ ...chat, messages: [] });
    if (chat.users.includes(view.me)) openChat(chat.key);
  } catch (err) {
    fail(err);
  }
});

$("restart").addEventListener("click", () => api("host/restart", {}).catch(fail));
$("kill").addEventListener("click", () => api("host/kill", {}).catch(fail));
$("alert-ok").addEventListener("click", () => ($("alert").hidden = true));
$("panel-bot").addEventListener("change", () => refreshPanel());

// --- live events -----------------------------------------------------------------------------------------------

function onWorld(e) {
  const d = view.data;
  if (e.seq <= d.seq) return;
  d.seq = e.seq;
  if (e.type === "user") {
    const u = userById(e.user.id);
    if (u) Object.assign(u, e.user);
    else d.users.push(e.user);
    return renderAll();
  }
  if (e.type === "chat") {
    if (!chatByKey(e.chat.key)) d.chats.push({ ...e.chat, messages: [] });
    return renderSidebar();
  }
  const c = chatByKey(e.message?.chat ?? e.chat);
  if (!c) return;
  if (e.type === "message") {
    if (!c.messages.some((m) => m.id === e.message.id)) c.messages.push(e.message);
    if (e.message.from.kind === "bot") view.typing.delete(e.message.from.id);
    if (c.key !== view.chat && c.users.includes(view.me) && !(e.message.from.kind === "user" && e.message.from.id === view.me)) {
      view.unread.set(c.key, (view.unread.get(c.key) ?? 0) + 1);
      renderSidebar();
    }
  } else if (e.type === "edit") {
    const i = c.messages.findIndex((m) => m.id === e.message.id);
    if (i !== -1) c.messages[i] = e.message;
  } else if (e.type === "delete") {
    c.messages = c.messages.filter((m) => m.id !== e.id);
  } else if (e.type === "action" && c.key === view.chat) {
    clearTimeout(view.typing.get(e.bot));
    view.typing.set(
      e.bot,
      setTimeout(() => (view.typing.delete(e.bot), renderTyping()), 5000),
    );
  } else if (e.type === "answer" && c.key === view.chat) {
    document.querySelectorAll("#messages .pressed").forEach((b) => b.classList.remove("pressed"));
    if (e.show_alert && e.text) {
      $("alert-text").textContent = e.text;
      $("alert").hidden = false;
    } else if (e.text) toast(e.text);
  }
  if (c.key === view.chat) {
    renderChat();
    schedulePanel();
  }
}

async function start() {
  view.data = await api("state");
  const firstUser = view.data.users.find((u) => !view.data.admins.includes(u.id));
  if (!view.data.users.some((u) => u.id === view.me)) view.me = firstUser?.id;
  renderAll();
  const es = new EventSource(`${API}events?after=${view.data.seq}`);
  es.addEventListener("world", (m) => onWorld(JSON.parse(m.data)));
  es.addEventListener("host", (m) => {
    view.data.host = JSON.parse(m.data);
    renderHeader();
    schedulePanel();
  });
  es.addEventListener("log", (m) => {
    const line = JSON.parse(m.data);
    if (line.bot !== undefined && line.bot === $("panel-bot").value) schedulePanel();
  });
  document.body.dataset.ready = "true";
}

start().catch(fail);
