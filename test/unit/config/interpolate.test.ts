import { describe, expect, it } from "vitest";
import { interpolate } from "../../../src/config/interpolate.js";
import { parse, problems, T1, yaml } from "./helpers.js";

describe("interpolate", () => {
  it("expands ${VAR}, several in one string and inside longer text", () => {
    expect(interpolate("${A}", { A: "1" })).toEqual({ value: "1", missing: [], malformed: false });
    expect(interpolate("redis://${HOST}:${PORT}/0", { HOST: "h", PORT: "6379" }).value).toBe("redis://h:6379/0");
  });

  it("uses the default when the variable is unset or empty, like the shell", () => {
    expect(interpolate("${A:-x}", {}).value).toBe("x");
    expect(interpolate("${A:-x}", { A: undefined }).value).toBe("x");
    expect(interpolate("${A:-x}", { A: "" }).value).toBe("x");
    expect(interpolate("${A:-x}", { A: "set" }).value).toBe("set");
    expect(interpolate("${A:-}", {}).value).toBe("");
    expect(interpolate("${A:-https://h:1/p?q=1}", {}).value).toBe("https://h:1/p?q=1");
  });

  it("counts an empty variable without a default as set", () => {
    expect(interpolate("<${A}>", { A: "" })).toEqual({ value: "<>", missing: [], malformed: false });
  });

  it("reports unset variables without a default, in order, and leaves them as written", () => {
    expect(interpolate("${A}-${B}-${C:-c}-${A}", {})).toEqual({ value: "${A}-${B}-c-${A}", missing: ["A", "B", "A"], malformed: false });
  });

  it("turns $${ into a literal ${ and leaves other dollars alone", () => {
    expect(interpolate("$${A}", { A: "no" }).value).toBe("${A}");
    expect(interpolate("cost $5, $$, $A, $${X:-y} and ${A}", { A: "1" }).value).toBe("cost $5, $$, $A, ${X:-y} and 1");
  });

  it("does not expand references that come from a variable's value", () => {
    expect(interpolate("${A}", { A: "${B}", B: "no" }).value).toBe("${B}");
  });

  it("flags a ${ that is not a valid reference", () => {
    expect(interpolate("${1X}", {})).toEqual({ value: "${1X}", missing: [], malformed: true });
    expect(interpolate("${A", { A: "1" }).malformed).toBe(true);
    expect(interpolate("${A-x}", {}).malformed).toBe(true);
  });
});

describe("interpolation in parseConfig", () => {
  const bot = ["bots:", "  - id: a", `    token: "${T1}"`];

  it("expands variables in any string scalar, app_config and list items included", () => {
    const c = parse(
      yaml(
        "app: ${APP_DIR}/app.js",
        "app_config:",
        "  greeting: Hello ${WHO:-world}!",
        "  chats: [ '${CHAT}', plain ]",
        "  literal: $${NOT_A_VAR}",
        "webhook:",
        "  public_url: https://${DOMAIN}",
        ...bot,
        "    allowed_updates: [ '${UPDATE:-message}' ]",
      ),
      { APP_DIR: "/opt/app", CHAT: "-1001", DOMAIN: "bots.example.com" },
    );
    expect(c.app).toBe("/opt/app/app.js");
    expect(c.app_config).toStrictEqual({ greeting: "Hello world!", chats: ["-1001", "plain"], literal: "${NOT_A_VAR}" });
    expect(c.webhook.public_url).toBe("https://bots.example.com");
    expect(c.bots[0]!.allowed_updates).toEqual(["message"]);
  });

  it("coerces interpolated numbers and booleans for numeric and boolean fields", () => {
    const c = parse(
      yaml(
        "app: app.js",
        "polling:",
        "  limit: ${LIMIT:-100}",
        "  timeout: ${TIMEOUT}",
        "shutdown:",
        "  drain_timeout: ${DRAIN}",
        "http:",
        "  listen: ${LISTEN:-false}",
        ...bot,
        "    enabled: ${A_ENABLED:-true}",
      ),
      { TIMEOUT: "5", DRAIN: "2.5", A_ENABLED: "false" },
    );
    expect(c.polling.limit).toBe(100);
    expect(c.polling.timeout).toBe(5);
    expect(c.shutdown.drain_timeout).toBe(2.5);
    expect(c.http.listen).toBe(false);
    expect(c.bots[0]!.enabled).toBe(false);
  });

  it("keeps interpolated strings as strings in string fields and app_config", () => {
    const c = parse(yaml("app: app.js", "redis:", "  url: redis://h", "  key_prefix: ${P}", "app_config:", "  n: ${N}", ...bot), {
      P: "42",
      N: "7",
    });
    expect(c.redis?.key_prefix).toBe("42");
    expect(c.app_config.n).toBe("7");
  });

  it("does not coerce literal strings, nor interpolated values that are not numbers", () => {
    expect(problems(yaml("app: app.js", "polling:", '  limit: "100"', "  timeout: ${T}", ...bot), { T: "ten" })).toEqual([
      "bots.yaml:3:10 polling.limit: expected a number, got a string (remove the quotes)",
      "bots.yaml:4:12 polling.timeout: expected a number, got a string",
    ]);
  });

  it("checks interpolated values like written ones", () => {
    expect(problems(yaml("app: app.js", "polling:", "  limit: ${LIMIT}", ...bot), { LIMIT: "500" })).toEqual([
      "bots.yaml:3:10 polling.limit: must be <= 100",
    ]);
  });

  it("reports every unset variable of a string at its value, and nothing else for that field", () => {
    expect(problems(yaml("app: app.js", "redis:", "  url: redis://${REDIS_USER}:${REDIS_PASSWORD}@h", "bots: []"))).toEqual([
      "bots.yaml:3:8 redis.url: environment variable REDIS_USER is not set",
      "bots.yaml:3:8 redis.url: environment variable REDIS_PASSWORD is not set",
    ]);
  });

  it("reports a malformed reference", () => {
    expect(problems(yaml("app: app.js", "redis:", "  url: redis://h", '  key_prefix: "${bot-host}:"', "bots: []"))).toEqual([
      "bots.yaml:4:15 redis.key_prefix: malformed variable reference: write ${NAME} or ${NAME:-default}, and $${ for a literal ${",
    ]);
  });
});
