import { writeFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import { CliProcess, runCli } from "../support/cli.js";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { message } from "../support/updates.js";
import { freePort } from "../support/redis-server.js";
import { buildYaml, fakeToken, uniquePrefix, writeConfig, type LogLine } from "../support/harness.js";

const redisUrl = inject("redisUrl");
const up = (l: LogLine): boolean => l.msg === "all bots are up";
const reloaded = (l: LogLine): boolean => typeof l.msg === "string" && l.msg.startsWith("config reloaded");

describe("live reload of bots.yaml (real CLI)", () => {
  let fake: LocalBotApi;
  let prefix: string;
  let port: number;
  const procs: CliProcess[] = [];

  beforeEach(async () => {
    fake = await LocalBotApi.start();
    prefix = uniquePrefix();
    port = await freePort();
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) p.kill("SIGKILL");
    await fake.stop();
  });

  const yamlFor = (bots: Array<{ id: string; token: string }>, extra = ""): string =>
    buildYaml({ apiRoot: fake.apiRoot, redisUrl, prefix, bots, http: `http:\n  listen: "127.0.0.1:${port}"`, extra });
  /** Replaces the file the way editors do: write a temporary file, rename it over the original. */
  const edit = (path: string, text: string): void => {
    const tmp = join(dirname(path), ".bots.yaml.tmp");
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  };
  const start = (path: string): CliProcess => {
    const p = new CliProcess(["start", "--config", path]);
    procs.push(p);
    return p;
  };
  const finals = (token: string): string[] => fake.sent(token).map((s) => s.text.split("|")[3]!);

  it("adds 2 bots and removes 1 under steady load; the 4 untouched bots answer every update exactly once, without a restart", async () => {
    const bots = Array.from({ length: 7 }, (_, i) => ({ id: `r${i}`, token: fakeToken(200 + i) }));
    for (const b of bots) fake.addBot(b.token);
    const initial = bots.slice(0, 5);
    const path = writeConfig(yamlFor(initial));
    const p = start(path);
    await p.waitForLog(up);
    let n = 0;
    const load = setInterval(() => {
      for (const b of initial) fake.inject(b.token, message(1 + (n % 4), `${b.id}-${n} sleep=20`));
      n++;
    }, 40);
    await new Promise((r) => setTimeout(r, 500));
    // remove r4, add r5 and r6
    edit(path, yamlFor([...bots.slice(0, 4), bots[5]!, bots[6]!]));
    await p.waitForLog(reloaded, 15_000);
    fake.inject(bots[5]!.token, message(9, "hello-new"));
    fake.inject(bots[6]!.token, message(9, "hello-new"));
    await fake.waitForSent(bots[5]!.token, 1, 5_000);
    await fake.waitForSent(bots[6]!.token, 1, 5_000);
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(load);
    const sentTo = n;
    for (const b of bots.slice(0, 4)) await fake.waitFor(() => finals(b.token).length >= sentTo, 10_000, `${b.id} answers`);
    const log = p.lines.find(reloaded)!;
    expect(log).toMatchObject({ trigger: "file watch", added: ["r5", "r6"], removed: ["r4"], restarted: [], unchanged: 4 });
    for (const b of bots.slice(0, 4)) {
      const labels = finals(b.token);
      expect(new Set(labels).size).toBe(labels.length); // exactly once
      expect(labels.length).toBe(sentTo);
      // never restarted: one "bot started" line, and no getUpdates ever answered 409
      expect(p.lines.filter((l) => l.bot === b.id && l.msg === "bot started")).toHaveLength(1);
      expect(fake.calls(b.token).filter((c) => c.method === "getUpdates" && c.status === 409)).toEqual([]);
    }
    expect(p.lines.find((l) => l.bot === "r4" && l.msg === "bot stopped")).toMatchObject({ cut_updates: 0 });
    p.kill("SIGTERM");
    expect(await p.exitCode()).toBe(0);
  }, 60_000);

  it("rejects an invalid edit with line numbers and keeps serving the old set; a token change restarts that bot only", async () => {
    const bots = [0, 1, 2].map((i) => ({ id: `v${i}`, token: fakeToken(220 + i) }));
    for (const b of bots) fake.addBot(b.token);
    const path = writeConfig(yamlFor(bots));
    const p = start(path);
    await p.waitForLog(up);
    edit(path, yamlFor(bots).replace("polling:", "poling:").replace("id: v2", "id: v1"));
    const rejected = await p.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("config reload rejected"));
    expect(rejected.issues).toEqual([
      expect.stringMatching(/bots\.yaml:\d+:\d+ poling: unknown key \(did you mean "polling"\?\)/),
      expect.stringMatching(/bots\.yaml:\d+:\d+ bots\[2\]\.id: duplicate id "v1" \(first used at line \d+\)/),
    ]);
    fake.inject(bots[2]!.token, message(3, "still-served"));
    await fake.waitForSent(bots[2]!.token, 1);

    const newToken = `${bots[1]!.token.split(":")[0]}:NEWTOKEN${"z".repeat(27)}`;
    fake.addBot(newToken);
    edit(path, yamlFor([bots[0]!, { id: "v1", token: newToken }, bots[2]!]));
    const log = await p.waitForLog(reloaded);
    expect(log).toMatchObject({ restarted: ["v1"], added: [], removed: [], unchanged: 2 });
    fake.inject(newToken, message(4, "via-new-token"));
    await fake.waitForSent(newToken, 1);
    expect(p.lines.filter((l) => l.bot === "v0" && l.msg === "bot started")).toHaveLength(1);
    expect(p.lines.filter((l) => l.bot === "v1" && l.msg === "bot started")).toHaveLength(2);
    expect(p.stdout).not.toContain("NEWTOKEN");
  }, 60_000);

  it("SIGHUP, the file watch and `bot-host reload` each trigger a reload, and a burst of edits leads to one", async () => {
    const bots = [0, 1, 2, 3].map((i) => ({ id: `h${i}`, token: fakeToken(240 + i) }));
    for (const b of bots) fake.addBot(b.token);
    const path = writeConfig(yamlFor([bots[0]!]));
    const p = start(path);
    await p.waitForLog(up);
    const count = (): number => p.lines.filter(reloaded).length;

    for (let i = 0; i < 5; i++) edit(path, yamlFor(bots.slice(0, i % 2 === 0 ? 2 : 1)));
    edit(path, yamlFor(bots.slice(0, 2)));
    await p.waitForLog(reloaded);
    await new Promise((r) => setTimeout(r, 800));
    expect(count()).toBe(1);
    expect(p.lines.find(reloaded)).toMatchObject({ trigger: "file watch", added: ["h1"] });

    // the next two without the watch noticing: write in place is also seen, so compare by trigger
    writeFileSync(path, yamlFor(bots.slice(0, 3)));
    await fake.waitFor(() => p.lines.filter(reloaded).some((l) => (l.added as string[]).includes("h2")), 10_000);
    p.kill("SIGHUP");
    await fake.waitFor(() => p.lines.some((l) => reloaded(l) && l.trigger === "SIGHUP"), 10_000);

    const r = await runCli(["reload", "--config", path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^reloaded: added none; removed none; restarted none; unchanged 3/);
    expect(p.lines.some((l) => reloaded(l) && l.trigger === "http")).toBe(true);

    writeFileSync(path.replace("bots.yaml", "bad.yaml"), "app: x\nbots: [\n");
    const bad = await runCli(["reload", "--config", path.replace("bots.yaml", "bad.yaml")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml:\d+:\d+ .*YAML syntax/);
    p.kill("SIGTERM");
    expect(await p.exitCode()).toBe(0);
  }, 60_000);
});
