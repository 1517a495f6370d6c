import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config/index.js";
import { ErrorCodes } from "../../../src/errors.js";
import { T1, T2, yaml } from "./helpers.js";

describe("loadConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bot-host-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("says which file it cannot read, and why", async () => {
    await expect(loadConfig("/nonexistent/bots.yaml", {})).rejects.toMatchObject({
      name: "BotHostError",
      code: ErrorCodes.CONFIG_UNREADABLE,
      message: "cannot read config file /nonexistent/bots.yaml: ENOENT: no such file or directory",
    });
    await expect(loadConfig(dir, {})).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_UNREADABLE,
      message: `cannot read config file ${dir}: EISDIR: illegal operation on a directory`,
    });
  });

  it("resolves app against the file's directory and reads variables from env", async () => {
    const file = join(dir, "ok.yaml");
    await writeFile(file, yaml("app: ./app/index.js", "bots:", "  - id: a", "    token: ${A_TOKEN}"));
    const c = await loadConfig(file, { A_TOKEN: T1 });
    expect(c.app).toBe(join(dir, "app/index.js"));
    expect(c.bots[0]!.token).toBe(T1);
  });

  it("names the file as it was given in every issue", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, yaml("app: app.js", "bots:", "  - id: a", "    token: ${A_TOKEN}"));
    const given = relative(process.cwd(), file);
    const err: unknown = await loadConfig(given, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toBe(
      `${given} has 1 problem:\n${given}:4:12 bots[0].token: environment variable A_TOKEN is not set`,
    );
  });

  it("accepts the bots.yaml shipped with the project", async () => {
    const c = await loadConfig("bots.yaml", { SUPPORT_BOT_TOKEN: T1, SALES_BOT_TOKEN: T2 });
    expect(c.app).toBe(resolve("dist/examples/support-desk/index.js"));
    expect(c.bots.map((b) => b.id)).toEqual(["support", "sales", "archive"]);
    expect(c.redis).toBeUndefined();
  });
});
