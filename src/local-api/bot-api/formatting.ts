import type { MessageEntity } from "grammy/types";
import { ApiError } from "./types.js";

/** A text with its formatting as Telegram stores it: plain text plus entities (offsets in UTF-16 code units). */
export interface Formatted {
  text: string;
  entities: MessageEntity[];
}

const cantParse = (why: string): ApiError => new ApiError(400, `Bad Request: can't parse entities: ${why}`);

/**
 * Applies a `parse_mode` like Telegram: `HTML`, `MarkdownV2` or `Markdown` markup becomes plain text plus entities,
 * and markup Telegram would refuse (an unclosed tag, an unescaped reserved character) is a 400. Without a parse
 * mode the text is kept and `entities` (when given) are taken as they are.
 */
export function applyParseMode(text: string, mode: string | undefined, entities?: unknown): Formatted {
  switch (mode?.toLowerCase()) {
    case "html":
      return parseHtml(text);
    case "markdownv2":
      return parseMarkdown(text, true);
    case "markdown":
      return parseMarkdown(text, false);
    default:
      return { text, entities: Array.isArray(entities) ? (entities as MessageEntity[]) : [] };
  }
}

const HTML_TAGS: Record<string, MessageEntity["type"]> = {
  b: "bold",
  strong: "bold",
  i: "italic",
  em: "italic",
  u: "underline",
  ins: "underline",
  s: "strikethrough",
  strike: "strikethrough",
  del: "strikethrough",
  "tg-spoiler": "spoiler",
  code: "code",
  pre: "pre",
  a: "text_link",
  blockquote: "blockquote",
  span: "spoiler",
};
const HTML_ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"' };

interface Open {
  tag: string;
  entity: MessageEntity;
}

function parseHtml(src: string): Formatted {
  let text = "";
  const entities: MessageEntity[] = [];
  const open: Open[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (ch === "&") {
      const m = /^&(#x[0-9a-f]+|#\d+|[a-z]+);/i.exec(src.slice(i, i + 12));
      const name = m?.[1];
      const value = name === undefined ? undefined : name.startsWith("#") ? codePoint(name) : HTML_ENTITIES[name.toLowerCase()];
      text += value ?? "&";
      i += value === undefined ? 1 : m![0].length;
      continue;
    }
    if (ch !== "<") {
      text += ch;
      i++;
      continue;
    }
    const m = /^<(\/?)([a-z][a-z0-9-]*)([^>]*)>/i.exec(src.slice(i));
    if (m === null) throw cantParse(`unclosed start tag at byte offset ${i}`);
    const [whole, closing, rawTag, attrs] = m;
    const tag = rawTag!.toLowerCase();
    const type = HTML_TAGS[tag];
    if (type === undefined || (tag === "span" && !/class\s*=\s*"?tg-spoiler/i.test(attrs!))) {
      throw cantParse(`unsupported ${closing ? "end" : "start"} tag "${tag}" at byte offset ${i}`);
    }
    if (closing) {
      const top = open.pop();
      if (top?.tag !== tag) throw cantParse(`unmatched end tag at byte offset ${i}, expected "</${top?.tag ?? ""}>", found "</${tag}>"`);
      top.entity.length = text.length - top.entity.offset;
      if (top.entity.length > 0) entities.push(top.entity);
    } else {
      const entity = { type, offset: text.length, length: 0 } as MessageEntity & { url?: string; language?: string };
      if (type === "text_link") entity.url = /href\s*=\s*"([^"]*)"/i.exec(attrs!)?.[1] ?? "";
      if (type === "code" && open.at(-1)?.tag === "pre") {
        const lang = /class\s*=\s*"language-([^"]+)"/i.exec(attrs!)?.[1];
        if (lang !== undefined) (open.at(-1)!.entity as MessageEntity & { language?: string }).language = lang;
      }
      open.push({ tag, entity });
    }
    i += whole!.length;
  }
  if (open.length > 0) throw cantParse(`can't find end tag corresponding to start tag "${open.at(-1)!.tag}"`);
  return { text, entities: sortEntities(entities) };
}

function codePoint(ref: string): string | undefined {
  const n = ref[1] === "x" || ref[1] === "X" ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
  return Number.isFinite(n) && n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : undefined;
}

/** MarkdownV2 (`v2`) or legacy Markdown delimiters, longest first, and the entity each one opens and closes. */
const V2_MARKS: Array<[string, MessageEntity["type"]]> = [
  ["```", "pre"],
  ["__", "underline"],
  ["||", "spoiler"],
  ["*", "bold"],
  ["_", "italic"],
  ["~", "strikethrough"],
  ["`", "code"],
];
const V1_MARKS: Array<[string, MessageEntity["type"]]> = [
  ["```", "pre"],
  ["*", "bold"],
  ["_", "italic"],
  ["`", "code"],
];
const V2_RESERVED = "_*[]()~`>#+-=|{}.!";

function parseMarkdown(src: string, v2: boolean): Formatted {
  const marks = v2 ? V2_MARKS : V1_MARKS;
  let text = "";
  const entities: MessageEntity[] = [];
  const open: Array<{ mark: string; entity: MessageEntity; at: number }> = [];
  let link: { offset: number; at: number } | undefined;
  let i = 0;
  while (i < src.length) {
    const top = open.at(-1);
    const inCode = top?.entity.type === "code" || top?.entity.type === "pre";
    const ch = src[i]!;
    if (ch === "\\" && i + 1 < src.length && (v2 || "_*`[".includes(src[i + 1]!))) {
      text += src[i + 1];
      i += 2;
      continue;
    }
    const mark = marks.find(([m]) => src.startsWith(m, i) && (!inCode || m === top!.mark));
    if (mark !== undefined) {
      const [m, type] = mark;
      if (top?.mark === m) {
        open.pop();
        top.entity.length = text.length - top.entity.offset;
        if (top.entity.length > 0) entities.push(top.entity);
      } else {
        open.push({ mark: m, entity: { type, offset: text.length, length: 0 } as MessageEntity, at: i });
        if (type === "pre") {
          const lang = /^[^\s`]+\n/.exec(src.slice(i + 3));
          if (lang !== null) {
            (open.at(-1)!.entity as MessageEntity & { language?: string }).language = lang[0].trim();
            i += lang[0].length;
          }
        }
      }
      i += m.length;
      continue;
    }
    if (!inCode && ch === "[" && link === undefined) {
      link = { offset: text.length, at: i };
      i++;
      continue;
    }
    if (!inCode && ch === "]" && link !== undefined && src[i + 1] === "(") {
      const end = src.indexOf(")", i + 2);
      if (end === -1) throw cantParse(`can't find end of a url at byte offset ${i}`);
      const length = text.length - link.offset;
      if (length > 0) entities.push({ type: "text_link", offset: link.offset, length, url: src.slice(i + 2, end) });
      link = undefined;
      i = end + 1;
      continue;
    }
    if (v2 && !inCode && V2_RESERVED.includes(ch)) {
      throw cantParse(`character '${ch}' is reserved and must be escaped with the preceding '\\'`);
    }
    text += ch;
    i++;
  }
  const unclosed = open[0] ?? (link === undefined ? undefined : { at: link.at });
  if (unclosed !== undefined) throw cantParse(`can't find end of the entity starting at byte offset ${unclosed.at}`);
  return { text, entities: sortEntities(entities) };
}

function sortEntities(entities: MessageEntity[]): MessageEntity[] {
  return entities.sort((a, b) => a.offset - b.offset || b.length - a.length);
}

/** The `bot_command` entities Telegram adds to a user's text (`/start`, `/help@some_bot`). */
export function commandEntities(text: string): MessageEntity[] {
  const out: MessageEntity[] = [];
  for (const m of text.matchAll(/(^|\s)(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?)/g)) {
    out.push({ type: "bot_command", offset: m.index + m[1]!.length, length: m[2]!.length });
  }
  return out;
}
