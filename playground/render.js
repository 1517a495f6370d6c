// Rendering of chat messages as a Telegram client shows them. Text is only ever inserted as text nodes: whatever a
// bot sends cannot inject markup into the page.

/** Creates an element with attributes and children (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c);
  return el;
}

const TAGS = {
  bold: "b",
  italic: "i",
  underline: "u",
  strikethrough: "s",
  code: "code",
  pre: "pre",
  blockquote: "blockquote",
  expandable_blockquote: "blockquote",
};

function safeUrl(url) {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : undefined;
  } catch {
    return undefined;
  }
}

function elementFor(e, text, onCommand) {
  if (TAGS[e.type]) return h(TAGS[e.type], { class: e.language ? `lang-${e.language}` : undefined });
  if (e.type === "text_link" || e.type === "url") {
    const href = safeUrl(e.type === "url" ? text.slice(e.offset, e.offset + e.length) : e.url);
    return href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }) : h("span");
  }
  if (e.type === "spoiler")
    return h("span", { class: "spoiler", title: "spoiler: click to show", onclick: (ev) => ev.currentTarget.classList.add("shown") });
  if (e.type === "bot_command") {
    const cmd = text.slice(e.offset, e.offset + e.length);
    return h("span", { class: "cmd", title: "click to write this command", onclick: () => onCommand?.(cmd) });
  }
  return h("span", { class: e.type });
}

/** Text with its entities (offsets in UTF-16 code units, like JavaScript strings), nested as Telegram nests them. */
export function formatted(text, entities = [], onCommand, start = 0, end = text.length) {
  const frag = document.createDocumentFragment();
  const list = entities
    .filter((e) => e.offset >= start && e.offset + e.length <= end)
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  let pos = start;
  for (const e of list) {
    if (e.offset < pos) continue; // nested in an entity already rendered
    frag.append(text.slice(pos, e.offset));
    const el = elementFor(e, text, onCommand);
    const inner = list.filter((x) => x !== e && x.offset >= e.offset && x.offset + x.length <= e.offset + e.length);
    el.append(formatted(text, inner, onCommand, e.offset, e.offset + e.length));
    frag.append(el);
    pos = e.offset + e.length;
  }
  frag.append(text.slice(pos, end));
  return frag;
}

const time = (unix) => new Date(unix * 1000).toTimeString().slice(0, 5);

/**
 * One message bubble. `ctx`: { me (current user id), senderName(from), findMessage(id), onPress(msg, button),
 * onReply(msg), onCommand(cmd), group (bool) }.
 */
export function messageView(m, ctx) {
  const mine = m.from.kind === "user" && m.from.id === ctx.me;
  const parts = [];
  if (!mine && ctx.group) parts.push(h("div", { class: "sender" }, ctx.senderName(m.from)));
  if (m.reply_to !== undefined) {
    const r = ctx.findMessage(m.reply_to);
    parts.push(h("div", { class: "quote" }, r ? `${ctx.senderName(r.from)}: ${(r.text ?? "").slice(0, 80)}` : "(message deleted)"));
  }
  if (m.media) {
    const label = m.media.kind === "photo" ? "Photo" : m.media.kind === "document" ? `Document: ${m.media.name ?? "file"}` : "Attachment";
    parts.push(h("div", { class: `media ${m.media.kind}` }, label));
  }
  if (m.text !== undefined) parts.push(h("div", { class: "text" }, formatted(m.text, m.entities, ctx.onCommand)));
  parts.push(
    h(
      "div",
      { class: "meta" },
      m.edited ? h("span", { class: "edited" }, "edited ") : null,
      time(m.date),
      h("button", { type: "button", class: "reply", title: "Reply", "aria-label": "Reply", onclick: () => ctx.onReply(m) }, "↩"),
    ),
  );
  const rows = m.reply_markup?.inline_keyboard ?? [];
  const keyboard =
    rows.length === 0
      ? null
      : h(
          "div",
          { class: "kb" },
          rows.map((row) =>
            h(
              "div",
              { class: "kb-row" },
              row.map((b) => keyButton(m, b, ctx)),
            ),
          ),
        );
  return h(
    "div",
    { class: `msg ${mine ? "mine" : m.from.kind}`, dataset: { id: String(m.id), from: m.from.kind } },
    h("div", { class: "bubble" }, parts),
    keyboard,
  );
}

function keyButton(m, b, ctx) {
  if (typeof b.callback_data === "string") {
    return h("button", { type: "button", onclick: (ev) => ctx.onPress(m, b, ev.currentTarget) }, b.text);
  }
  const href = b.url ? safeUrl(b.url) : undefined;
  if (href) return h("a", { class: "button", href, target: "_blank", rel: "noopener noreferrer" }, `${b.text} ↗`);
  return h("button", { type: "button", disabled: true, title: "not simulated" }, b.text);
}
