import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { runCli } from "../support/cli.js";
import { fakeToken, writeConfig } from "../support/harness.js";
import { LocalBotApi } from "../support/fake-bot-api.js";

const ROOT = resolve(import.meta.dirname, "../..");
const SUPPORT = fakeToken(1);
const SALES = fakeToken(2);

describe("bot-host check", () => {
  let fake: LocalBotApi | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });

  it("lists the bots of the committed bots.yaml without printing a token", async () => {
    const r = await runCli(["check", "--config", resolve(ROOT, "bots.yaml")], { SUPPORT_BOT_TOKEN: SUPPORT, SALES_BOT_TOKEN: SALES });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/support\s+100001:\*\*\*\s+polling\s+enabled/);
    expect(r.stdout).toMatch(/sales\s+100002:\*\*\*\s+polling\s+enabled/);
    expect(r.stdout).toMatch(/archive\s+\d+:\*\*\*\s+polling\s+disabled/);
    expect(r.stdout + r.stderr).not.toContain(SUPPORT.split(":")[1]);
  });

  it("--explain prints one bot's effective settings: its own values over the top level, and which are its own", async () => {
    const env = { SUPPORT_BOT_TOKEN: SUPPORT, SALES_BOT_TOKEN: SALES };
    const r = await runCli(["check", "--config", resolve(ROOT, "bots.yaml"), "--explain", "sales"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const explained = r.stdout.slice(r.stdout.indexOf("bot sales, as it runs"));
    expect(explained).toContain(
      "set by the bot itself: app_config (merged over the top level), limits.outgoing.per_bot; the rest from the top level",
    );
    expect(explained).toMatch(/outgoing:\n\s+enabled: true\n\s+per_bot: 20\n\s+per_chat: 1\n\s+per_group: 20/);
    expect(explained).toMatch(/polling:\n\s+limit: 100\n\s+timeout: 30\n\s+concurrency: 500/);
    expect(explained).toMatch(/app_config:\n\s+admin_chats: \[\]/);
    expect(explained).toContain("token: 100002:***");
    expect(r.stdout + r.stderr).not.toContain(SALES.split(":")[1]);
    const support = await runCli(["check", "--config", resolve(ROOT, "bots.yaml"), "--explain", "support"], env);
    expect(support.stdout).toContain("bot support, as it runs (every value from the top level)");
    expect(support.stdout).toMatch(/per_bot: 30/);
    const unknown = await runCli(["check", "--config", resolve(ROOT, "bots.yaml"), "--explain", "nobody"], env);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('no bot "nobody" (bots: support, sales, archive)') });
  });

  it("accepts the order-desk example's bots.yaml", async () => {
    const r = await runCli(["check", "--config", resolve(ROOT, "examples/order-desk/bots.yaml")], {
      SHOP_BOT_TOKEN: SUPPORT,
      DELI_BOT_TOKEN: SALES,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/shop\s+100001:\*\*\*\s+polling\s+enabled/);
    expect(r.stdout).toMatch(/deli\s+100002:\*\*\*\s+polling\s+enabled/);
  });

  it("accepts the README's Redis Cluster and Sentinel examples", async () => {
    const readme = readFileSync(resolve(ROOT, "README.md"), "utf8");
    const examples = [
      ...readme.matchAll(/```yaml\n(redis:[^\n]*# a (?:Redis Cluster|master and replicas behind Sentinel)\n[\s\S]*?)```/g),
    ].map((m) => m[1]!);
    expect(examples).toHaveLength(2);
    for (const example of examples) {
      const config = writeConfig(`app: app.js\n${example}bots:\n  - id: a\n    token: "${SUPPORT}"\n`);
      const r = await runCli(["check", "--config", config], { REDIS_PASSWORD: "not-printed-pass" });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/state in Redis at redis-(cluster|sentinel):\/\//);
      expect(r.stdout).not.toContain("not-printed-pass");
    }
  });

  it("names a missing token variable in one line and exits 2", async () => {
    const r = await runCli(["check", "--config", resolve(ROOT, "bots.yaml")], { SALES_BOT_TOKEN: SALES });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bots\.yaml:\d+:\d+ bots\[0\]\.token: environment variable SUPPORT_BOT_TOKEN is not set/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("prints all three mistakes of a bad file with line numbers, exits 2 and prints no token", async () => {
    const path = writeConfig(
      [
        "app: ./app.js",
        "polling:",
        "  limt: 100", // typo
        "bots:",
        "  - id: one",
        `    token: "${SUPPORT}"`,
        "  - id: one", // duplicate id
        `    token: "${SALES}"`,
        "  - id: three",
        '    token: "not-a-token"', // malformed
      ].join("\n"),
    );
    const r = await runCli(["check", "--config", path]);
    expect(r.code).toBe(2);
    const problems = r.stderr.split("\n").filter((l) => /bots\.yaml:\d+:\d+ /.test(l));
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^.*bots\.yaml:3:3 polling\.limt: .*did you mean "limit"/);
    expect(problems[1]).toMatch(/bots\.yaml:7:\d+ bots\[1\]\.id: duplicate id "one" \(first used at line 5\)/);
    expect(problems[2]).toMatch(/bots\.yaml:10:\d+ bots\[2\]\.token: malformed token/);
    expect(r.stderr).not.toContain("not-a-token");
    expect(r.stderr + r.stdout).not.toContain(SUPPORT.split(":")[1]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("--online reports which tokens work, in parallel, and exits 1 when one does not", async () => {
    fake = await LocalBotApi.start();
    fake.addBot(SUPPORT, { username: "support_bot" });
    const path = writeConfig(
      [
        `app: ./app.js`,
        `api_root: ${fake.apiRoot}`,
        "bots:",
        `  - id: support`,
        `    token: "${SUPPORT}"`,
        `  - id: sales`,
        `    token: "${SALES}"`,
      ].join("\n"),
    );
    const r = await runCli(["check", "--config", path, "--online"]);
    expect(r.stdout).toMatch(/support\s+ok, @support_bot/);
    expect(r.stdout).toMatch(/sales\s+token rejected \(401 Unauthorized\)/);
    expect(r.code).toBe(1);
  });

  it("start: an invalid file exits 2 before anything starts; Redis unreachable exits 1 naming the URL without its password", async () => {
    const bad = await runCli(["start", "--config", writeConfig("app: x.js\nbots:\n  - id: a\n    token: nope\n")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bots\.yaml:4:12 bots\[0\]\.token: malformed token/);
    expect(bad.stdout).toBe("");
    const path = writeConfig(
      [`app: ${resolve(ROOT, "test/fixtures/counter-app.js")}`, "redis:", "  url: redis://app:s3cret@127.0.0.1:9/0", "bots: []"].join("\n"),
    );
    const down = await runCli(["start", "--config", path]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error BOT_HOST_REDIS_UNREACHABLE: cannot connect to Redis at redis:\/\/app:\*\*\*@127\.0\.0\.1:9\/0/);
    expect(down.stderr + down.stdout).not.toContain("s3cret");
    expect(down.stderr).not.toMatch(/\n\s+at /);
  });

  it("--help and --version exit 0; an unknown command exits 2", async () => {
    expect((await runCli(["--help"])).code).toBe(0);
    const v = await runCli(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await runCli(["frobnicate"])).code).toBe(2);
    expect((await runCli(["start"])).code).toBe(2); // missing --config
  });
});
