import { describe, expect, it } from "vitest";
import { ConfigError, formatIssue } from "../../../src/config/index.js";
import { BotHostError, ErrorCodes } from "../../../src/errors.js";
import { errorOf, parse, problems, T1, T2, T3, yaml } from "./helpers.js";

const MALFORMED = 'malformed token: expected "<digits>:<30+ letters, digits, _ or ->" like 123456:ABC...';

describe("ConfigError and formatIssue", () => {
  it("formats an issue as file:line:col path: message, leaving out an empty path", () => {
    const issue = {
      file: "conf/bots.yaml",
      line: 12,
      col: 12,
      path: "bots[1].token",
      message: "environment variable BOT2_TOKEN is not set",
    };
    expect(formatIssue(issue)).toBe("conf/bots.yaml:12:12 bots[1].token: environment variable BOT2_TOKEN is not set");
    expect(formatIssue({ ...issue, path: "" })).toBe("conf/bots.yaml:12:12 environment variable BOT2_TOKEN is not set");
  });

  it("is a BotHostError with code CONFIG_INVALID and a counted header", () => {
    const one = new ConfigError("bots.yaml", [{ file: "bots.yaml", line: 1, col: 1, path: "app", message: "is required" }]);
    expect(one).toBeInstanceOf(BotHostError);
    expect(one.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(one.name).toBe("ConfigError");
    expect(one.message).toBe("bots.yaml has 1 problem:\nbots.yaml:1:1 app: is required");
    const err = errorOf(yaml("bots:", "  - id: a"));
    expect(err.message).toBe("bots.yaml has 2 problems:\nbots.yaml:1:1 app: is required\nbots.yaml:2:5 bots[0].token: is required");
    expect(err.issues).toStrictEqual([
      { file: "bots.yaml", line: 1, col: 1, path: "app", message: "is required" },
      { file: "bots.yaml", line: 2, col: 5, path: "bots[0].token", message: "is required" },
    ]);
  });
});

describe("parseConfig reports", () => {
  it("the example from the spec: an unset variable at line 12, column 12", () => {
    const text = yaml(
      "# bots.yaml",
      "app: ./app.js",
      "",
      "polling:",
      "  limit: 100",
      "",
      "bots:",
      "  - id: support",
      "    token: ${SUPPORT_BOT_TOKEN}",
      "    enabled: true",
      "  - id: bot2",
      "    token: ${BOT2_TOKEN}",
    );
    expect(problems(text, { SUPPORT_BOT_TOKEN: T1 })).toEqual([
      "bots.yaml:12:12 bots[1].token: environment variable BOT2_TOKEN is not set",
    ]);
  });

  it("exactly three issues, in file order, for a file with three mistakes", () => {
    const text = yaml(
      "app: ./app.js",
      "polling:",
      "  limt: 100",
      "bots:",
      "  - id: support",
      "    token: ${SUPPORT_BOT_TOKEN}",
      "  - id: sales",
      `    token: "${T1}"`,
      "    enabled: yes",
    );
    expect(problems(text)).toEqual([
      'bots.yaml:3:3 polling.limt: unknown key (did you mean "limit"?)',
      "bots.yaml:6:12 bots[0].token: environment variable SUPPORT_BOT_TOKEN is not set",
      "bots.yaml:9:14 bots[1].enabled: expected true or false, got a string",
    ]);
  });

  it("YAML syntax errors, without the other checks", () => {
    expect(problems(yaml("app: x", "bots: [", "app: y"))).toEqual([
      "bots.yaml:3:1 YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
    expect(problems(yaml("app: x", "bots:", "\t- id: a"))).toEqual(["bots.yaml:3:1 YAML syntax: Tabs are not allowed as indentation"]);
    expect(problems(yaml("app: x", "bots: []", "---", "app: y"))).toEqual([
      "bots.yaml:3:1 YAML syntax: the file must hold a single YAML document (remove the second ---)",
    ]);
  });

  it("repeated keys at the repetition, along with the other problems", () => {
    const text = yaml("app: x", "bots:", "  - id: a", `    token: "${T1}"`, "    id: b", "polling:", "  limit: 0", "app: y");
    expect(problems(text)).toEqual([
      "bots.yaml:5:5 bots[0].id: duplicate key (first used at line 3)",
      "bots.yaml:7:10 polling.limit: must be >= 1",
      "bots.yaml:8:1 app: duplicate key (first used at line 1)",
    ]);
  });

  it("aliases that are unknown or refer to their own parent, instead of crashing", () => {
    const text = yaml("app: x", "app_config: &cfg", "  self: *cfg", "  other: *nope", "bots: []");
    expect(problems(text)).toEqual([
      "bots.yaml:3:9 app_config.self: alias *cfg refers to a mapping or list that contains it",
      "bots.yaml:4:10 app_config.other: unknown alias *nope",
    ]);
    const bomb = yaml(
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
    );
    expect(
      problems(
        yaml(
          "app: x",
          "bots: []",
          "app_config:",
          ...bomb
            .trimEnd()
            .split("\n")
            .map((l) => `  ${l}`),
        ),
      ),
    ).toEqual([
      // 10 expansions in b, then 11 per *b in c: the 101st is c[8][1], the second *a of b (line 5) as expanded there.
      "bots.yaml:5:14 app_config.c[8][1]: too many alias expansions (more than 100)",
    ]);
  });

  it("aliases that are fine", () => {
    const c = parse(yaml("app: x", "app_config:", "  base: &base { greeting: hi }", "  copy: *base", "bots: []"));
    expect(c.app_config).toStrictEqual({ base: { greeting: "hi" }, copy: { greeting: "hi" } });
  });

  it("an unset variable in an unknown key's value, and the unknown key", () => {
    expect(problems(yaml("app: x", "bots: []", "polling:", "  limt: ${LIMIT}"))).toEqual([
      'bots.yaml:4:3 polling.limt: unknown key (did you mean "limit"?)',
      "bots.yaml:4:9 polling.limt: environment variable LIMIT is not set",
    ]);
  });

  it("unknown keys at the key, with a suggestion within edit distance 2 or else the allowed keys", () => {
    const text = yaml(
      "app: app.js",
      "bot: [] # bots is given below, so only the unknown key is reported",
      "webhook:",
      "  pathprefix: /x",
      "shutdown:",
      "  grace: 5",
      "bots:",
      "  - id: a",
      `    token: "${T1}"`,
      "    Enabled: true",
    );
    expect(problems(text)).toEqual([
      'bots.yaml:2:1 bot: unknown key (did you mean "bots"?)',
      'bots.yaml:4:3 webhook.pathprefix: unknown key (did you mean "path_prefix"?)',
      "bots.yaml:6:3 shutdown.grace: unknown key (expected one of: drain_timeout)",
      'bots.yaml:10:5 bots[0].Enabled: unknown key (did you mean "enabled"?)',
    ]);
  });

  it("missing required keys at the mapping that lacks them", () => {
    expect(problems(yaml("# comment", "", "api_root: https://x.example", "bots:", "  - token: x"))).toEqual([
      "bots.yaml:3:1 app: is required",
      "bots.yaml:5:5 bots[0].id: is required",
      `bots.yaml:5:12 bots[0].token: ${MALFORMED}`,
    ]);
    expect(problems("")).toEqual(["bots.yaml:1:1 app: is required", "bots.yaml:1:1 bots: is required"]);
  });

  it("wrong types, naming what was expected and what kind of value was found", () => {
    expect(problems("- app: x\n")).toEqual(["bots.yaml:1:1 expected a mapping, got a list"]);
    expect(
      problems(
        yaml(
          "app: 42",
          "app_config: [1]",
          "polling: 5",
          "bots:",
          "  - support",
          "  - id: b",
          "    token:",
          "    allowed_updates: message",
          "    enabled: 1",
        ),
      ),
    ).toEqual([
      "bots.yaml:1:6 app: expected a string, got a number",
      "bots.yaml:2:13 app_config: expected a mapping, got a list",
      "bots.yaml:3:10 polling: expected a mapping, got a number",
      "bots.yaml:5:5 bots[0]: expected a mapping, got a string",
      "bots.yaml:7:5 bots[1].token: expected a string, got an empty value",
      "bots.yaml:8:22 bots[1].allowed_updates: expected a list, got a string",
      "bots.yaml:9:14 bots[1].enabled: expected true or false, got a number",
    ]);
    expect(problems(yaml("app: x", "bots:"))).toEqual(["bots.yaml:2:1 bots: expected a list, got an empty value"]);
  });

  it("out-of-range numbers, bad URLs, bad enums and malformed strings, one issue per field", () => {
    const text = yaml(
      "app: app.js",
      "mode: poling",
      "api_root: ftp://x",
      "polling:",
      "  limit: 0",
      "  timeout: 51",
      "  concurrency: 1.5",
      '  global_concurrency: "5"',
      "shutdown:",
      "  drain_timeout: 0",
      "http:",
      '  listen: "0.0.0.0:70000"',
      "  max_sockets: -1",
      "webhook:",
      "  public_url: https://x.example/",
      "  path_prefix: /tg/",
      "  secret: too-short",
      "  max_connections: 101",
      "redis:",
      "  url: http://h",
      "  session_ttl: -5",
      "bots:",
      "  - id: -bad",
      `    token: "${T1}"`,
      '    enabled: "true"',
      "    allowed_updates: [mesage, nonsense]",
      "    mode: push",
      '    webhook_secret: "has space"',
    );
    expect(problems(text)).toEqual([
      'bots.yaml:2:7 mode: must be one of: polling, webhook (did you mean "polling"?)',
      "bots.yaml:3:11 api_root: must be an http:// or https:// URL",
      "bots.yaml:5:10 polling.limit: must be >= 1",
      "bots.yaml:6:12 polling.timeout: must be <= 50",
      "bots.yaml:7:16 polling.concurrency: must be an integer",
      "bots.yaml:8:23 polling.global_concurrency: expected a number, got a string (remove the quotes)",
      "bots.yaml:10:18 shutdown.drain_timeout: must be > 0",
      "bots.yaml:12:11 http.listen: port must be 0..65535",
      "bots.yaml:13:16 http.max_sockets: must be >= 0",
      "bots.yaml:15:15 webhook.public_url: remove the trailing /",
      'bots.yaml:16:16 webhook.path_prefix: must not end with "/"',
      "bots.yaml:17:11 webhook.secret: must be at least 16 characters",
      "bots.yaml:18:20 webhook.max_connections: must be <= 100",
      "bots.yaml:20:8 redis.url: must be a redis:// or rediss:// URL (or empty for no Redis)",
      "bots.yaml:21:16 redis.session_ttl: must be >= 0",
      "bots.yaml:23:9 bots[0].id: must be 1-64 letters, digits, _ or -, starting with a letter or digit",
      "bots.yaml:25:14 bots[0].enabled: expected true or false, got a string (remove the quotes)",
      'bots.yaml:26:23 bots[0].allowed_updates[0]: unknown value (did you mean "message"?)',
      `bots.yaml:26:31 bots[0].allowed_updates[1]: must be one of: message, edited_message, channel_post, edited_channel_post, business_connection, business_message, edited_business_message, deleted_business_messages, message_reaction, message_reaction_count, inline_query, chosen_inline_result, callback_query, shipping_query, pre_checkout_query, purchased_paid_media, poll, poll_answer, my_chat_member, chat_member, chat_join_request, chat_boost, removed_chat_boost`,
      "bots.yaml:27:11 bots[0].mode: must be one of: polling, webhook",
      "bots.yaml:28:21 bots[0].webhook_secret: must be 1-256 characters of A-Z, a-z, 0-9, _ and -",
    ]);
  });

  it("the limits of the ranges", () => {
    const over = yaml(
      "app: app.js",
      "api_root: https://x.example/",
      "polling:",
      "  limit: 101",
      "  timeout: -1",
      "  concurrency: 100001",
      "  global_concurrency: 1000001",
      "shutdown:",
      "  drain_timeout: 3601",
      "http:",
      "  listen: 8080",
      "webhook:",
      "  path_prefix: tg",
      "  max_connections: 0",
      "bots: []",
    );
    expect(problems(over)).toEqual([
      "bots.yaml:2:11 api_root: remove the trailing /",
      "bots.yaml:4:10 polling.limit: must be <= 100",
      "bots.yaml:5:12 polling.timeout: must be >= 0",
      "bots.yaml:6:16 polling.concurrency: must be <= 100000",
      "bots.yaml:7:23 polling.global_concurrency: must be <= 1000000",
      "bots.yaml:9:18 shutdown.drain_timeout: must be <= 3600",
      "bots.yaml:11:11 http.listen: must be host:port (e.g. 0.0.0.0:8080) or false",
      'bots.yaml:13:16 webhook.path_prefix: must start with "/"',
      "bots.yaml:14:20 webhook.max_connections: must be >= 1",
    ]);
    const edges = yaml(
      "app: app.js",
      "polling: { limit: 1, timeout: 0, concurrency: 100000, global_concurrency: 1000000 }",
      "shutdown: { drain_timeout: 3600 }",
      "http: { listen: '0.0.0.0:65535' }",
      "webhook: { max_connections: 100, secret: 0123456789abcdef }",
      "bots: []",
    );
    expect(() => parse(edges)).not.toThrow();
  });

  it("malformed tokens without echoing them", () => {
    const text = yaml(
      "app: app.js",
      "bots:",
      "  - id: a",
      "    token: nope",
      "  - id: b",
      "    token: 100002:short",
      "  - id: c",
      `    token: "${T3} "`,
      "  - id: d",
      "    token: ${D_TOKEN}",
    );
    expect(problems(text, { D_TOKEN: "" })).toEqual([
      `bots.yaml:4:12 bots[0].token: ${MALFORMED}`,
      `bots.yaml:6:12 bots[1].token: ${MALFORMED}`,
      `bots.yaml:8:12 bots[2].token: ${MALFORMED}`,
      `bots.yaml:10:12 bots[3].token: ${MALFORMED}`,
    ]);
  });

  it("duplicate ids and tokens at the second occurrence, naming the first's line", () => {
    const text = yaml(
      "app: app.js",
      "bots:",
      "  - id: support",
      `    token: "${T1}"`,
      "  - id: sales",
      "    token: ${SALES_TOKEN}",
      "  - id: support",
      `    token: "${T2}"`,
      "    enabled: false",
      "  - id: support",
      `    token: "${T1}"`,
    );
    expect(problems(text, { SALES_TOKEN: T1 })).toEqual([
      "bots.yaml:6:12 bots[1].token: same token as bots[0] (first used at line 4)",
      'bots.yaml:7:9 bots[2].id: duplicate id "support" (first used at line 3)',
      'bots.yaml:10:9 bots[3].id: duplicate id "support" (first used at line 3)',
      "bots.yaml:11:12 bots[3].token: same token as bots[0] (first used at line 4)",
    ]);
  });

  it("a bot in webhook mode when the HTTP server is off", () => {
    const text = yaml(
      "app: app.js",
      "mode: webhook",
      "http:",
      "  listen: false",
      "bots:",
      "  - id: a",
      `    token: "${T1}"`,
      "  - id: b",
      `    token: "${T2}"`,
      "    mode: polling",
      "  - id: c",
      `    token: "${T3}"`,
      "    enabled: false",
    );
    expect(problems(text)).toEqual([
      "bots.yaml:4:11 http.listen: webhook mode needs the HTTP server, but it is off (bots in webhook mode: a)",
    ]);
  });

  it("leases asked for without Redis, and a lease TTL out of range", () => {
    const text = yaml("app: app.js", "redis:", '  url: ""', "leases:", "  enabled: true", "  ttl: 1", "bots: []");
    expect(problems(text)).toEqual([
      "bots.yaml:5:12 leases.enabled: sharing the bots between instances needs Redis: set redis.url (or redis.cluster or redis.sentinel), or remove leases.enabled to run every bot in this one process",
      expect.stringMatching(/^bots\.yaml:6:8 leases\.ttl: /),
    ]);
  });
});

describe("secrets in messages", () => {
  const secretParts = ["a".repeat(30), "b".repeat(30), "c".repeat(30)];

  function expectClean(err: ConfigError, secrets: string[]): void {
    const texts = [err.message, ...err.issues.flatMap((i) => [i.path, i.message])];
    for (const text of texts) {
      for (const s of [T1, T2, T3, ...secretParts, ...secrets]) expect(text).not.toContain(s);
    }
  }

  it("never shows a token, wherever it was written", () => {
    const text = yaml(
      "app: app.js",
      "mode: ${T1}",
      "bots:",
      "  - id: ${T1}",
      `    token: "${T1}"`,
      `    webhook_secret: "${T2}"`,
      `    ${T3}: 1`,
      "  - id: b",
      "    token: ${T1}",
      `    allowed_updates: ["${T2}"]`,
      "  - id: c",
      `    token: "${T1.slice(0, 20)}"`,
    );
    const err = errorOf(text, { T1 });
    expect(err.issues).toHaveLength(7);
    expectClean(err, []);
    expect(err.message).toContain("bots[0].100003:***: unknown key");
    expect(err.message).toContain("bots[1].token: same token as bots[0] (first used at line 5)");
  });

  it("never shows a token from a line with a YAML syntax error", () => {
    const err = errorOf(yaml("app: app.js", "bots:", "  - id: a", `    token: "${T1}`));
    expectClean(err, []);
  });

  it("never shows webhook secrets or a Redis password", () => {
    const text = yaml(
      "app: app.js",
      "webhook:",
      "  secret: hunter2-short",
      "redis:",
      "  url: http://user:pa55word@h:6379",
      "bots:",
      "  - id: a",
      `    token: "${T1}"`,
      '    webhook_secret: "s3cret with space"',
    );
    const err = errorOf(text);
    expect(err.issues.map((i) => i.path)).toEqual(["webhook.secret", "redis.url", "bots[0].webhook_secret"]);
    expectClean(err, ["hunter2", "pa55word", "s3cret"]);
  });

  it("redacts token-shaped text even in issues built by hand", () => {
    const err = new ConfigError("bots.yaml", [{ file: "bots.yaml", line: 1, col: 1, path: T1, message: `bad ${T2}` }]);
    expect(err.message).toBe("bots.yaml has 1 problem:\nbots.yaml:1:1 100001:***: bad 100002:***");
    expect(err.issues[0]).toStrictEqual({ file: "bots.yaml", line: 1, col: 1, path: "100001:***", message: "bad 100002:***" });
  });
});

describe("a bot's own settings", () => {
  it("a wrong type, an out-of-range value and an unknown key in a per-bot override each get their line and field", () => {
    const text = yaml(
      "app: ./app.js",
      "bots:",
      "  - id: a",
      `    token: "${T1}"`,
      "    app_config: [ 1, 2 ]",
      "    polling:",
      '      limit: "many"',
      "      global_concurrency: 5",
      "    limits:",
      "      outgoing:",
      "        per_bot: 0",
      "        per_second: 3",
      "    api_root: ftp://example.org",
    );
    expect(problems(text)).toEqual([
      "bots.yaml:5:17 bots[0].app_config: expected a mapping, got a list",
      "bots.yaml:7:14 bots[0].polling.limit: expected a number, got a string",
      "bots.yaml:8:7 bots[0].polling.global_concurrency: unknown key (expected one of: limit, timeout, concurrency)",
      "bots.yaml:11:18 bots[0].limits.outgoing.per_bot: must be > 0",
      "bots.yaml:12:9 bots[0].limits.outgoing.per_second: unknown key (expected one of: enabled, per_bot, per_chat, per_group)",
      "bots.yaml:13:15 bots[0].api_root: must be an http:// or https:// URL",
    ]);
  });

  it("a valid override parses, keeping only what the bot sets", () => {
    const c = parse(
      yaml(
        "app: ./app.js",
        "bots:",
        "  - id: a",
        `    token: "${T1}"`,
        "    app_config: { admin_chats: [7] }",
        "    polling: { limit: 10 }",
        "    limits: { outgoing: { per_bot: 5 }, incoming: { enabled: true } }",
        "    api_root: https://bots.example.org",
      ),
    );
    expect(c.bots[0]).toMatchObject({
      app_config: { admin_chats: [7] },
      polling: { limit: 10 },
      limits: { outgoing: { per_bot: 5 }, incoming: { enabled: true } },
      api_root: "https://bots.example.org",
    });
    expect(c.bots[0]!.polling).toStrictEqual({ limit: 10 });
  });
});
