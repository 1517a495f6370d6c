import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../../src");
const OWNER = "lifecycle/shutdown-coordinator.ts";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("signal ownership", () => {
  it("only the shutdown coordinator installs signal handlers or calls process.exit", () => {
    const offenders: string[] = [];
    const pattern = /\.(on|once|addListener|prependListener)\(\s*["'`]SIG[A-Z]+|process\.exit\(|["'`]SIG(INT|TERM|HUP)["'`]/;
    for (const file of sources(SRC)) {
      const rel = relative(SRC, file);
      if (rel === OWNER) continue;
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (pattern.test(line)) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
    // and the owner really is the one that does it
    expect(readFileSync(join(SRC, OWNER), "utf8")).toMatch(/\.on\("SIGINT"/);
  });
});
