import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig, type ConfigIssue } from "../../../src/config/index.js";
import { interpolate } from "../../../src/config/interpolate.js";
import { redactToken, redactUrl } from "../../../src/config/token.js";

const T1 = `100001:${"a".repeat(35)}`;
const T2 = `100002:${"b".repeat(35)}`;
const opts = (env: Record<string, string> = {}) => ({ file: "bots.yaml", baseDir: "/srv/bots", env });

function issuesOf(text: string, env: Record<string, string> = {}): ConfigIssue[] {
  try {
    parseConfig(text, opts(env));
  } catch (err) {
    if (err instanceof ConfigError) return [...err.issues];
    throw err;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig", () => {
  it("fills every default, resolves the app path and per-bot mode, and deep-freezes", () => {
    const c = parseConfig(`app: ./app.js\nbots:\n  - id: a\n    token: \${A}\n  - id: b\n    token: "${T2}"\n    mode: webhook\n    enabled: false\n`, opts({ A: T1 }));
    expect(c.app).toBe("/srv/bots/app.js");
    expect(c.api_root).toBe("https://api.telegram.org");
    expect(c.redis).toBeUndefined();
    expect(c.polling).toEqual({ limit: 100, timeout: 30, concurrency: 500, global_concurrency: 10_000 });
    expect(c.shutdown.drain_timeout).toBe(10);
    expect(c.http).toEqual({ listen: "0.0.0.0:8080", max_sockets: 0 });
    expect(c.webhook).toEqual({ path_prefix: "/telegram", max_connections: 40 });
    expect(c.bots).toEqual([
      { id: "a", token: T1, enabled: true, mode: "polling" },
      { id: "b", token: T2, enabled: false, mode: "webhook" },
    ]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.bots[0])).toBe(true);
    expect(Object.isFrozen(c.polling)).toBe(true);
  });

  it("treats an absent or empty redis url as no Redis, and keeps a set one", () => {
    const base = `app: x.js\nbots: []\n`;
    expect(parseConfig(`${base}redis:\n  url: \${REDIS_URL:-}\n`, opts()).redis).toBeUndefined();
    const c = parseConfig(`${base}redis:\n  url: \${REDIS_URL:-}\n  session_ttl: "60"\n`, opts({ REDIS_URL: "redis://h:1/2" }));
    expect(c.redis).toEqual({ url: "redis://h:1/2", key_prefix: "bot-host:", session_ttl: 60 });
  });

  it("coerces interpolated numbers and booleans", () => {
    const c = parseConfig(
      `app: x.js\npolling:\n  limit: \${LIMIT:-50}\n  timeout: \${T}\nbots:\n  - id: a\n    token: "${T1}"\n    enabled: \${ON}\n`,
      opts({ T: "5", ON: "false" }),
    );
    expect(c.polling.limit).toBe(50);
    expect(c.polling.timeout).toBe(5);
    expect(c.bots[0]!.enabled).toBe(false);
  });

  it("reports every problem at once, in file order, with line, column and field", () => {
    const text = [
      "app: ./app.js", // 1
      "polling:", // 2
      "  limt: 100", // 3 unknown key
      "  timeout: 99", // 4 out of range
      "bots:", // 5
      "  - id: one", // 6
      `    token: "${T1}"`, // 7
      "  - id: one", // 8 duplicate id
      `    token: "${T1}"`, // 9 duplicate token
      "  - id: three", // 10
      "    token: nope", // 11 malformed
      "  - id: four", // 12
      "    token: ${FOUR_TOKEN}", // 13 unset variable
      "    allowed_updates: [message, mesage]", // 14 unknown update type
    ].join("\n");
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.line, i.col, i.path])).toEqual([
      [3, 3, "polling.limt"],
      [4, 12, "polling.timeout"],
      [8, 9, "bots[1].id"],
      [9, 12, "bots[1].token"],
      [11, 12, "bots[2].token"],
      [13, 12, "bots[3].token"],
      [14, 32, "bots[3].allowed_updates[1]"],
    ]);
    expect(issues[0]!.message).toBe('unknown key (did you mean "limit"?)');
    expect(issues[1]!.message).toBe("must be <= 50");
    expect(issues[2]!.message).toBe('duplicate id "one" (first used at line 6)');
    expect(issues[3]!.message).toBe("same token (100001:***) as bots[0] (first used at line 7)");
    expect(issues[4]!.message).toMatch(/^malformed token/);
    expect(issues[5]!.message).toBe("environment variable FOUR_TOKEN is not set");
    expect(issues[6]!.message).toMatch(/^must be one of: message, /);
  });

  it("never puts a token or secret into a message", () => {
    const text = `app: x.js\nredis:\n  url: "redis://u:hunter2hunter2@h:1"\n  bogus: 1\nbots:\n  - id: "bad id!"\n    token: "${T1}"\n  - id: b\n    token: "${T1}"\n  - id: c\n    token: "12:short"\n`;
    try {
      parseConfig(text, opts());
      throw new Error("expected a ConfigError");
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toMatch(/^bots\.yaml has 4 problems:/);
      expect(msg).not.toContain("a".repeat(35));
      expect(msg).not.toContain("12:short");
      expect(msg).not.toContain("hunter2");
    }
  });

  it("names the missing key of a required field and reports YAML syntax errors with their line", () => {
    expect(issuesOf("bots:\n  - id: a\n").map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual([
      "1:1 app: is required",
      "2:5 bots[0].token: is required",
    ]);
    const syntax = issuesOf("app: x\nbots:\n  - id: a\n    id: b\n");
    expect(syntax).toHaveLength(1);
    expect(syntax[0]).toMatchObject({ line: 4, col: 5, message: "YAML syntax: Map keys must be unique" });
  });

  it("rejects a trailing slash on api_root and a bad mode", () => {
    const issues = issuesOf(`app: x\napi_root: http://x/\nmode: push\nbots: []\n`);
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ["api_root", "remove the trailing /"],
      ["mode", "must be one of: polling, webhook"],
    ]);
  });
});

describe("loadConfig", () => {
  it("says which file it cannot read", async () => {
    await expect(loadConfig("/nonexistent/bots.yaml", {})).rejects.toMatchObject({
      code: "BOT_HOST_CONFIG_UNREADABLE",
      message: "cannot read config file /nonexistent/bots.yaml: ENOENT",
    });
  });
});

describe("interpolate and redaction", () => {
  it("expands several references, defaults and escapes", () => {
    expect(interpolate("${A}-${B:-dflt}-$${LIT}-${C:-}", { A: "1", B: "" })).toEqual({ value: "1-dflt-${LIT}-", missing: [] });
    expect(interpolate("x${NOPE}y", {})).toEqual({ value: "x${NOPE}y", missing: ["NOPE"] });
  });

  it("redacts tokens and URL passwords", () => {
    expect(redactToken(T1)).toBe("100001:***");
    expect(redactUrl("redis://user:pw@host:6379/0")).toBe("redis://user:***@host:6379/0");
    expect(redactUrl("redis://host:6379")).toBe("redis://host:6379");
  });
});
