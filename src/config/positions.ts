import { isAlias, isMap, isScalar, isSeq, type Alias, type Document, type LineCounter, type Node } from "yaml";
import { hasReference, interpolate } from "./interpolate.js";

/** A location in the file (1-based). */
export interface Position {
  line: number;
  col: number;
}

/** Where a field's value and its key stand. */
export interface FieldPosition {
  value: Position;
  key?: Position;
}

/** A path into the document: mapping keys and sequence indexes, as `["bots", 1, "token"]`. */
export type Path = ReadonlyArray<string | number>;

/** A problem found while converting the document: an unset variable, a malformed `${`, a repeated key, a bad alias. */
export type LocateProblem =
  | { kind: "unset"; path: Path; variable: string }
  | { kind: "malformed"; path: Path }
  | { kind: "alias"; path: Path; message: string }
  | { kind: "duplicate-key"; path: Path; at: Position; firstLine: number };

/** The document as plain data, with the position of every field and the interpolation problems. */
export interface Located {
  data: unknown;
  /** Keyed by {@link formatPath}; `""` is the whole document. */
  positions: Map<string, FieldPosition>;
  problems: LocateProblem[];
}

/**
 * Turns an interpolated string into the value validation should see (a number or boolean where the field
 * wants one). Called only for scalars that contained `${`.
 */
export type Coerce = (path: Path, value: string) => unknown;

// yaml's own default for maxAliasCount; a config file needs a handful at most.
const MAX_ALIAS_EXPANSIONS = 100;

/** `bots[1].token` for `["bots", 1, "token"]`. */
export function formatPath(path: Path): string {
  return path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s === "" ? p : `${s}.${p}`), "");
}

/**
 * Converts a YAML document to plain data, interpolating `${VAR}` in every string scalar, and records where
 * each field stands so that validation problems can name their line and column.
 */
export function locate(doc: Document, lines: LineCounter, env: Readonly<Record<string, string | undefined>>, coerce: Coerce): Located {
  const positions = new Map<string, FieldPosition>();
  const problems: LocateProblem[] = [];
  const at = (node: Node | null | undefined): Position => {
    const p = lines.linePos(node?.range?.[0] ?? 0);
    return { line: p.line, col: p.col };
  };

  // Aliases are expanded here, not by yaml's toJS, so its guards against cycles and alias bombs are ours to keep.
  const open = new Set<unknown>();
  let expansions = 0;
  const expand = (node: Alias, path: Path): unknown => {
    const target = node.resolve(doc);
    let message: string | undefined;
    if (target === undefined) message = `unknown alias *${node.source}`;
    else if (open.has(target)) message = `alias *${node.source} refers to a mapping or list that contains it`;
    else if (++expansions > MAX_ALIAS_EXPANSIONS) message = `too many alias expansions (more than ${MAX_ALIAS_EXPANSIONS})`;
    if (message === undefined) return walk(target, path);
    if (expansions <= MAX_ALIAS_EXPANSIONS + 1) problems.push({ kind: "alias", path, message });
    return null;
  };

  const walk = (node: unknown, path: Path): unknown => {
    if (isAlias(node)) return expand(node, path);
    if (isMap(node) || isSeq(node)) open.add(node);
    try {
      return walkNode(node, path);
    } finally {
      open.delete(node);
    }
  };

  const walkNode = (node: unknown, path: Path): unknown => {
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const firstLines = new Map<string, number>();
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const child = [...path, key];
        const keyNode = pair.key as Node | null;
        const firstLine = firstLines.get(key);
        if (firstLine === undefined) firstLines.set(key, at(keyNode).line);
        else problems.push({ kind: "duplicate-key", path: child, at: at(keyNode), firstLine });
        const valueNode = pair.value as Node | null;
        // An empty value (`key:`) is a zero-width node at the end of the line: point at the key instead.
        const empty = valueNode === null || valueNode.range?.[0] === valueNode.range?.[1];
        positions.set(formatPath(child), { value: at(empty ? keyNode : valueNode), key: at(keyNode) });
        // defineProperty, because assigning a `__proto__` key would replace the prototype instead.
        Object.defineProperty(out, key, { value: walk(pair.value, child), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        positions.set(formatPath([...path, i]), { value: at(item as Node) });
        return walk(item, [...path, i]);
      });
    }
    if (isScalar(node)) {
      if (typeof node.value !== "string" || !hasReference(node.value)) return node.value;
      const r = interpolate(node.value, env);
      for (const variable of r.missing) problems.push({ kind: "unset", path, variable });
      if (r.malformed) problems.push({ kind: "malformed", path });
      return coerce(path, r.value);
    }
    return null;
  };

  positions.set("", { value: at(doc.contents as Node | null) });
  return { data: walk(doc.contents, []), positions, problems };
}

/** The position recorded for `path`, or for its nearest recorded ancestor (`key` for the key itself). */
export function positionOf(positions: Map<string, FieldPosition>, path: Path, preferKey = false): Position {
  for (let n = path.length; n >= 0; n--) {
    const hit = positions.get(formatPath(path.slice(0, n)));
    if (hit !== undefined) return (preferKey && n === path.length ? hit.key : undefined) ?? hit.value;
  }
  return { line: 1, col: 1 };
}

/** The plain-data value at `path`, or undefined when the path does not exist. */
export function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}
