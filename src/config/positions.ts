import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from "yaml";
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

/** A missing `${VAR}` found while converting the document. */
export interface MissingVariable {
  path: Array<string | number>;
  name: string;
}

/** The document as plain data, with the position of every field and the variables that were not set. */
export interface Located {
  data: unknown;
  positions: Map<string, FieldPosition>;
  missing: MissingVariable[];
}

/** `bots[1].token` for `["bots", 1, "token"]`. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : s === "" ? p : `${s}.${p}`), "");
}

/**
 * Converts a YAML document to plain data, interpolating `${VAR}` in string scalars, and records where each
 * field stands so that validation problems can name their line and column.
 */
export function locate(doc: Document, lines: LineCounter, env: Readonly<Record<string, string | undefined>>): Located {
  const positions = new Map<string, FieldPosition>();
  const missing: MissingVariable[] = [];
  const at = (node: Node | null | undefined): Position => {
    const offset = node?.range?.[0] ?? 0;
    const p = lines.linePos(offset);
    return { line: p.line, col: p.col };
  };

  const walk = (node: unknown, path: Array<string | number>): unknown => {
    if (isAlias(node)) return walk(node.resolve(doc), path);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const child = [...path, key];
        const keyNode = pair.key as Node | null;
        positions.set(formatPath(child), { value: at((pair.value as Node | null) ?? keyNode), key: at(keyNode) });
        out[key] = walk(pair.value, child);
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
      if (typeof node.value === "string" && hasReference(node.value)) {
        const r = interpolate(node.value, env);
        for (const name of r.missing) missing.push({ path, name });
        return r.value;
      }
      return node.value;
    }
    return node === null || node === undefined ? null : node;
  };

  positions.set("", { value: at(doc.contents as Node | null) });
  return { data: walk(doc.contents, []), positions, missing };
}

/** The position recorded for `path`, or for its nearest recorded ancestor. */
export function positionOf(positions: Map<string, FieldPosition>, path: ReadonlyArray<string | number>, preferKey = false): Position {
  for (let n = path.length; n >= 0; n--) {
    const hit = positions.get(formatPath(path.slice(0, n)));
    if (hit !== undefined) return (preferKey && n === path.length ? hit.key : undefined) ?? hit.value;
  }
  return { line: 1, col: 1 };
}
