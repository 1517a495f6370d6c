import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { buildYaml, fakeToken, writeConfig } from "../support/harness.js";

describe("bot-host bench", () => {
  it("runs the config's app on simulated bots and prints throughput, latency percentiles and memory", async () => {
    // api_root and the bots of the file are replaced by the simulated ones
    const path = writeConfig(buildYaml({ apiRoot: "http://127.0.0.1:9", bots: [{ id: "real", token: fakeToken(1) }] }));
    const r = await runCli(["bench", "--config", path, "--bots", "3", "--updates", "300", "--chats", "30"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/on 3 simulated bots, 300 updates over 30 chats/);
    expect(r.stdout).toMatch(/throughput\s+\d+ updates\/s/);
    expect(r.stdout).toMatch(/latency\s+p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms/);
    expect(r.stdout).toMatch(/replies sent\s+300/); // the counter app replies to every message
    expect(r.stdout).toMatch(/memory\s+peak RSS [\d.]+ MB/);
  });

  it("rejects a bad count as a usage error", async () => {
    const path = writeConfig(buildYaml({ apiRoot: "http://127.0.0.1:9", bots: [] }));
    const r = await runCli(["bench", "--config", path, "--bots", "zero"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--bots must be a whole number >= 1");
  });
});
