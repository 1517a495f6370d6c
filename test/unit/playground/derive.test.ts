import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/config/index.js";
import { ADMIN_USER_ID, deriveConfig, readUserFile } from "../../../src/playground/derive.js";
import { writeConfig } from "../../support/harness.js";

const REAL = "987654321:AAE-this-looks-like-a-real-token-xyz";

const yaml = `
app: ./app.js
app_config:
  admin_chats: [ ]
api_root: \${BOT_API_ROOT:-https://api.telegram.org}
redis:
  url: \${REDIS_URL:-}
webhook:
  public_url: https://example.org
  secret: "0123456789abcdef0123"
http:
  listen: "0.0.0.0:8080"
bots:
  - id: literal
    token: "${REAL}"
  - id: from-env
    token: \${PLAYGROUND_TEST_UNSET_TOKEN}
    mode: webhook
  - id: off
    token: \${PLAYGROUND_TEST_OFF:-000000:disabled-bot-placeholder-token-xxxxxxxx}
    enabled: false
`;

describe("the playground's derived config", () => {
  it("replaces every token (literal or from an unset variable), polls every bot on the local Bot API, and sets the admin", async () => {
    const path = writeConfig(yaml);
    writeFileSync(join(dirname(path), "app.js"), "export default () => {};\n");
    const file = await readUserFile(path, {});
    expect(file.bots.map((b) => [b.id, b.enabled])).toEqual([
      ["literal", true],
      ["from-env", true],
      ["off", false],
    ]);
    expect(new Set(file.bots.map((b) => b.token)).size).toBe(3);
    expect(file.text).not.toContain(REAL);

    const d = deriveConfig(file, "http://127.0.0.1:4321", { kind: "redis", url: "redis://127.0.0.1:6390", keyPrefix: "p:" }, {});
    expect(d.text).not.toContain(REAL);
    expect(d.text).not.toContain("PLAYGROUND_TEST_UNSET_TOKEN}");
    expect(d.env.PLAYGROUND_TEST_UNSET_TOKEN).toBe(file.bots[1]!.token);
    expect(d.config).toMatchObject({
      app: join(dirname(path), "app.js"),
      api_root: "http://127.0.0.1:4321",
      http: { listen: "127.0.0.1:0" },
      redis: { url: "redis://127.0.0.1:6390", key_prefix: "p:" },
      webhook: { public_url: undefined },
      app_config: { admin_chats: [ADMIN_USER_ID] },
    });
    expect(d.config.bots.map((b) => [b.id, b.token, b.mode])).toEqual(file.bots.map((b) => [b.id, b.token, "polling"]));
    expect(d.admins).toEqual([ADMIN_USER_ID]);
    expect(d.notes.join("\n")).toMatch(/bot from-env uses webhooks in the file; the playground runs it with polling/);

    const memory = deriveConfig(file, "http://127.0.0.1:4321", { kind: "memory" }, {});
    expect(memory.config.redis).toBeUndefined();
  });

  it("reports a broken file with the user's own line numbers", async () => {
    const path = writeConfig(yaml.replace("admin_chats: [ ]", "admin_chats: [ ]\nunknown_key: 1"));
    const err = await readUserFile(path, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/bots\.yaml:5:1 .*unknown_key/s);
  });
});
