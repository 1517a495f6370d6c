import { describe, expect, it } from "vitest";
import type { Config } from "../../../src/config/index.js";
import { parse, T1, T2, yaml } from "./helpers.js";

describe("parseConfig on valid files", () => {
  it("returns every field of a file that sets everything, with keys as in the YAML", () => {
    const text = yaml(
      "app: ./dist/app.js",
      "app_config:",
      "  admin_chats: [ -1001 ]",
      "  nested: { greeting: hi }",
      "api_root: https://tg.example.com/bot-api",
      "mode: webhook",
      "redis:",
      "  url: redis://user:pw@redis:6379/2",
      '  key_prefix: "bh:"',
      "  session_ttl: 3600",
      "leases:",
      "  ttl: 5",
      "  balance: false",
      "  instance: pod-7",
      "polling:",
      "  limit: 50",
      "  timeout: 25",
      "  concurrency: 200",
      "  global_concurrency: 5000",
      "updates:",
      "  max_attempts: 5",
      "  handler_timeout: 0",
      "shutdown:",
      "  drain_timeout: 2.5",
      "http:",
      '  listen: "127.0.0.1:9000"',
      "  max_sockets: 64",
      "webhook:",
      "  public_url: https://bots.example.com",
      "  path_prefix: /tg/hooks",
      "  secret: 0123456789abcdef-server",
      "  max_connections: 80",
      "limits:",
      "  retry: { max_attempts: 2, max_delay: 10 }",
      "  outgoing: { per_bot: 25, per_chat: 2 }",
      "  incoming:",
      "    enabled: true",
      "bots:",
      "  - id: support",
      "    token: ${SUPPORT_BOT_TOKEN}",
      "    allowed_updates: [message, callback_query]",
      "    webhook_secret: per-bot_secret-1",
      "  - id: sales",
      `    token: "${T2}"`,
      "    enabled: false",
      "    mode: polling",
    );
    const expected: Config = {
      app: "/srv/bots/dist/app.js",
      app_config: { admin_chats: [-1001], nested: { greeting: "hi" } },
      api_root: "https://tg.example.com/bot-api",
      mode: "webhook",
      redis: {
        target: { kind: "server", url: "redis://user:pw@redis:6379/2" },
        url: "redis://user:pw@redis:6379/2",
        username: undefined,
        password: undefined,
        tls: false,
        min_replicas: 0,
        key_prefix: "bh:",
        session_ttl: 3600,
      },
      leases: { enabled: true, ttl: 5, balance: false, instance: "pod-7" },
      polling: { limit: 50, timeout: 25, concurrency: 200, global_concurrency: 5000 },
      updates: { max_attempts: 5, handler_timeout: 0 },
      shutdown: { drain_timeout: 2.5 },
      http: { listen: "127.0.0.1:9000", max_sockets: 64, advertise_url: undefined },
      webhook: {
        public_url: "https://bots.example.com",
        path_prefix: "/tg/hooks",
        secret: "0123456789abcdef-server",
        max_connections: 80,
      },
      limits: {
        retry: { max_attempts: 2, max_delay: 10 },
        outgoing: { enabled: true, per_bot: 25, per_chat: 2, per_group: 20 },
        incoming: { enabled: true, per_user: 3, window: 1 },
      },
      broadcast: { audience: true, rate: 20, paid: false },
      bots: [
        {
          id: "support",
          token: T1,
          enabled: true,
          mode: "webhook",
          allowed_updates: ["message", "callback_query"],
          webhook_secret: "per-bot_secret-1",
          app_config: undefined,
          api_root: undefined,
          polling: undefined,
          limits: undefined,
          broadcast: undefined,
        },
        {
          id: "sales",
          token: T2,
          enabled: false,
          mode: "polling",
          allowed_updates: undefined,
          webhook_secret: undefined,
          app_config: undefined,
          api_root: undefined,
          polling: undefined,
          limits: undefined,
          broadcast: undefined,
        },
      ],
    };
    expect(parse(text, { SUPPORT_BOT_TOKEN: T1 })).toStrictEqual(expected);
  });

  it("fills every default in a minimal file", () => {
    const c = parse(yaml("app: app.js", "bots:", "  - id: a", `    token: "${T1}"`));
    const expected: Config = {
      app: "/srv/bots/app.js",
      app_config: {},
      api_root: "https://api.telegram.org",
      mode: "polling",
      redis: undefined,
      leases: { enabled: false, ttl: 10, balance: true, instance: undefined },
      polling: { limit: 100, timeout: 30, concurrency: 500, global_concurrency: 10_000 },
      updates: { max_attempts: 3, handler_timeout: 60 },
      shutdown: { drain_timeout: 10 },
      http: { listen: "0.0.0.0:8080", max_sockets: 0, advertise_url: undefined },
      webhook: { public_url: undefined, path_prefix: "/telegram", secret: undefined, max_connections: 40 },
      limits: {
        retry: { max_attempts: 5, max_delay: 30 },
        outgoing: { enabled: true, per_bot: 30, per_chat: 1, per_group: 20 },
        incoming: { enabled: false, per_user: 3, window: 1 },
      },
      broadcast: { audience: true, rate: 20, paid: false },
      bots: [
        {
          id: "a",
          token: T1,
          enabled: true,
          mode: "polling",
          allowed_updates: undefined,
          webhook_secret: undefined,
          app_config: undefined,
          api_root: undefined,
          polling: undefined,
          limits: undefined,
          broadcast: undefined,
        },
      ],
    };
    expect(c).toStrictEqual(expected);
  });

  it("accepts an empty bot list", () => {
    expect(parse(yaml("app: app.js", "bots: []")).bots).toEqual([]);
  });

  it("treats sections whose children are all commented out as absent", () => {
    const c = parse(
      yaml("app: app.js", "app_config:", "polling:", "  # limit: 10", "shutdown:", "http:", "webhook:", "redis:", "bots: []"),
    );
    expect(c.app_config).toStrictEqual({});
    expect(c.polling).toStrictEqual({ limit: 100, timeout: 30, concurrency: 500, global_concurrency: 10_000 });
    expect(c.shutdown).toStrictEqual({ drain_timeout: 10 });
    expect(c.http).toStrictEqual({ listen: "0.0.0.0:8080", max_sockets: 0, advertise_url: undefined });
    expect(c.webhook.path_prefix).toBe("/telegram");
    expect(c.redis).toBeUndefined();
  });

  it("resolves app against the base directory and keeps an absolute app as is", () => {
    expect(parse(yaml("app: ../lib/app.js", "bots: []")).app).toBe("/srv/lib/app.js");
    expect(parse(yaml("app: /opt/app/index.js", "bots: []")).app).toBe("/opt/app/index.js");
  });

  it("resolves each bot's mode from its override or the top-level mode", () => {
    const text = (top: string) =>
      yaml(
        ...(top === "" ? [] : [`mode: ${top}`]),
        "app: app.js",
        "bots:",
        "  - id: a",
        `    token: "${T1}"`,
        "  - id: b",
        `    token: "${T2}"`,
        "    mode: polling",
      );
    expect(parse(text("webhook")).bots.map((b) => [b.id, b.mode])).toEqual([
      ["a", "webhook"],
      ["b", "polling"],
    ]);
    expect(parse(text("")).bots.map((b) => [b.id, b.mode])).toEqual([
      ["a", "polling"],
      ["b", "polling"],
    ]);
  });

  it("accepts http.listen false (no HTTP server), IPv6 hosts and port 0", () => {
    expect(parse(yaml("app: app.js", "http:", "  listen: false", "bots: []")).http.listen).toBe(false);
    expect(parse(yaml("app: app.js", "http:", '  listen: "[::1]:8443"', "bots: []")).http.listen).toBe("[::1]:8443");
    expect(parse(yaml("app: app.js", "http:", '  listen: "localhost:0"', "bots: []")).http.listen).toBe("localhost:0");
  });

  it("treats empty optional secrets and public_url (from ${VAR:-}) as not set", () => {
    const c = parse(
      yaml(
        "app: app.js",
        "webhook:",
        "  public_url: ${PUBLIC_URL:-}",
        "  secret: ${WEBHOOK_SECRET:-}",
        "bots:",
        "  - id: a",
        `    token: "${T1}"`,
        "    webhook_secret: ${A_SECRET:-}",
      ),
    );
    expect(c.webhook.public_url).toBeUndefined();
    expect(c.webhook.secret).toBeUndefined();
    expect(c.bots[0]!.webhook_secret).toBeUndefined();
  });
});

describe("redis", () => {
  const base = ["app: app.js", "bots: []"];

  it("is undefined when the section is absent", () => {
    expect(parse(yaml(...base)).redis).toBeUndefined();
  });

  it("is undefined when the url is empty, literally or from an unset ${VAR:-}", () => {
    expect(parse(yaml(...base, "redis:", '  url: ""', "  session_ttl: 60")).redis).toBeUndefined();
    expect(parse(yaml(...base, "redis:", "  url: ${REDIS_URL:-}")).redis).toBeUndefined();
    expect(parse(yaml(...base, "redis:", "  url: ${REDIS_URL:-}"), { REDIS_URL: "" }).redis).toBeUndefined();
  });

  it("fills its defaults when the url is set, and keeps the password in the config", () => {
    const c = parse(yaml(...base, "redis:", "  url: ${REDIS_URL:-}"), { REDIS_URL: "rediss://u:pw@h:6380/1" });
    expect(c.redis).toStrictEqual({
      target: { kind: "server", url: "rediss://u:pw@h:6380/1" },
      url: "rediss://u:pw@h:6380/1",
      username: undefined,
      password: undefined,
      tls: false,
      min_replicas: 0,
      key_prefix: "bot-host:",
      session_ttl: 0,
    });
  });
});

describe("deep freeze", () => {
  it("freezes the config, every section, the bots, their lists and app_config", () => {
    const c = parse(
      yaml(
        "app: app.js",
        "app_config:",
        "  admin_chats: [1, 2]",
        "  deep: { list: [{ x: 1 }] }",
        "redis:",
        "  url: redis://h",
        "bots:",
        "  - id: a",
        `    token: "${T1}"`,
        "    allowed_updates: [message]",
      ),
    );
    const objects: unknown[] = [
      c,
      c.polling,
      c.shutdown,
      c.http,
      c.webhook,
      c.redis,
      c.bots,
      c.bots[0],
      c.bots[0]!.allowed_updates,
      c.app_config,
      c.app_config.admin_chats,
      c.app_config.deep,
      (c.app_config.deep as { list: unknown[] }).list,
      (c.app_config.deep as { list: unknown[] }).list[0],
    ];
    for (const o of objects) expect(Object.isFrozen(o)).toBe(true);
    // ES modules run in strict mode: writing to a frozen object throws.
    expect(() => {
      (c.polling as { limit: number }).limit = 1;
    }).toThrow(TypeError);
    expect(() => {
      (c.bots as unknown[]).push({});
    }).toThrow(TypeError);
  });
});
