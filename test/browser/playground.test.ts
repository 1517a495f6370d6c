import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { CliProcess } from "../support/cli.js";
import type { LogLine } from "../support/harness.js";

// The real `bot-host playground` command on the repository's bots.yaml (the support desk), driven through its page
// in Debian's Chromium. Every wait is for a state of the page (Playwright's locators wait on their own).
const ROOT = resolve(import.meta.dirname, "../..");
const SCREENSHOT = resolve(ROOT, "docs/playground.png");
/** Looks like a real token: it must never show up anywhere (page, logs). */
const REAL_LOOKING_TOKEN = "123456789:AAH-real-looking-token-never-to-be-seen";
const WAIT = 30_000;

let cli: CliProcess;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  cli = new CliProcess(["playground", "--config", resolve(ROOT, "bots.yaml"), "--listen", "127.0.0.1:0"], {
    REDIS_URL: inject("redisUrl"),
    SUPPORT_BOT_TOKEN: REAL_LOOKING_TOKEN,
    // SALES_BOT_TOKEN unset on purpose: the playground needs no token at all
  });
  const ready = await cli.waitForLog((l: LogLine) => typeof l.msg === "string" && l.msg.startsWith("playground ready"), WAIT);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(WAIT);
  await page.goto(String(ready.url));
  await page.locator("body[data-ready=true]").waitFor();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (cli !== undefined && cli.pid > 0) {
    cli.kill("SIGTERM");
    await cli.exitCode(30_000);
  }
});

const message = (text: string | RegExp) => page.locator("#messages .msg", { hasText: text });

async function asUser(label: string): Promise<void> {
  await page.locator("#user").selectOption({ label });
}

async function openChat(title: string): Promise<void> {
  await page.locator("#chats button", { hasText: title }).click();
  await page.locator("#chat-title", { hasText: title }).waitFor();
}

async function send(text: string): Promise<void> {
  await page.locator("#text").fill(text);
  await page.locator("#text").press("Enter");
  await message(text).last().waitFor();
}

/**
 * Presses a host button, then at once sends the admin's answer (it waits in the local Bot API while the host is
 * down); resolves with the ms from the press to the bot's confirmation, once the host runs for the `starts`-th time.
 */
async function answerAcross(id: "restart" | "kill", starts: number, answer: string, nth: number): Promise<number> {
  const t0 = Date.now();
  await page.locator(`#${id}`).click();
  await send(answer);
  await message("Sent to chat").nth(nth).waitFor();
  const ms = Date.now() - t0;
  await page.locator(`#host-state[data-state="running"][data-starts="${starts}"]`).waitFor();
  await asUser("Alice");
  await openChat("Support");
  await message("Answer from support:").filter({ hasText: answer }).waitFor();
  return ms;
}

/** Alice asks; the admin presses *Answer* (the admin chat's session now holds the pending answer). */
async function askAndPressAnswer(question: string, nth: number): Promise<void> {
  await asUser("Alice");
  await openChat("Support");
  await send(`/help ${question}`);
  await message("Thanks! Your question was sent to the support team.").nth(nth).waitFor();
  await asUser("Admin (admin)");
  await openChat("Support");
  await message(`Help request from Alice`).filter({ hasText: question }).getByRole("button", { name: "Answer" }).click();
  await message("Type your answer to chat").nth(nth).waitFor();
}

describe("bot-host playground in a real browser (support desk of bots.yaml, no token)", () => {
  it("answers a help request across a graceful restart and a hard kill, while a group with two bots is served", async () => {
    // The page says where the state is and who the admin is.
    await page.locator("#store", { hasText: "state in Redis" }).waitFor();
    await page.locator("#notes", { hasText: 'simulated user "Admin"' }).waitFor();

    // 1. Alice asks in her private chat with the support bot; the admin presses Answer.
    await page.locator("#bots button", { hasText: "Support" }).click();
    await askAndPressAnswer("question one", 0);
    await page.locator("#session", { hasText: '"pending"' }).waitFor(); // the admin chat's session, read from Redis

    // 2. Meanwhile Bob, in a group with both bots, gets an answer from each of them at once.
    await page.locator("#new-user").fill("Bob");
    await page.locator("#user-form button").click();
    await page.locator("#user option:checked", { hasText: "Bob" }).waitFor({ state: "attached" });
    await page.locator("#group-title").fill("Team");
    await page.locator("#gb-support").check();
    await page.locator("#gb-sales").check();
    await page.locator("#group-form button").click();
    await page.locator("#chat-title", { hasText: "Team" }).waitFor();
    await send("/start");
    const hello = page.locator("#messages .msg.bot", { hasText: "Hello! Send /help" });
    await hello.nth(1).waitFor();
    expect(await page.locator("#messages .msg.bot .sender").allTextContents()).toEqual(expect.arrayContaining(["Support", "Sales"]));

    // 3. Restart the host gracefully mid-flow: the admin's pending answer survives it, and the bot answers again
    // within 2 s of the press.
    await asUser("Admin (admin)");
    await openChat("Support");
    const afterRestart = await answerAcross("restart", 2, "Please restart the router.", 0);
    await asUser("Admin (admin)");
    await openChat("Support");
    await page.screenshot({ path: screenshotPath() });

    // 4. Once more, with a hard kill (SIGKILL) between pressing Answer and replying: the restarted host takes its
    // own leases over at once.
    await askAndPressAnswer("question two", 1);
    await asUser("Admin (admin)");
    await openChat("Support");
    const afterKill = await answerAcross("kill", 3, "Unplug it for ten seconds.", 1);
    await page.locator("#host-info", { hasText: "last exit: SIGKILL" }).waitFor();
    console.log(`playground: press -> the bot answered again: restart ${afterRestart} ms, kill ${afterKill} ms`);
    // Neither waits for a lease to expire (10 s): a restart releases them, a killed host's successor takes them
    // over. (About a second each on a quiet machine.)
    expect(afterRestart).toBeLessThan(10_000);
    expect(afterKill).toBeLessThan(10_000);

    // No real token anywhere: not on the page, not in the playground's or the host's log.
    expect(await page.content()).not.toContain(REAL_LOOKING_TOKEN);
    expect(cli.stdout + cli.stderr).not.toContain(REAL_LOOKING_TOKEN);
    expect(cli.lines[0]?.msg).toMatch(/nothing is sent to Telegram or any other network/);
  }, 180_000);
});

/**
 * The README's screenshot (docs/playground.png) with UPDATE_SCREENSHOT=1; otherwise a temp file, so a test run
 * leaves the working tree as it was.
 */
function screenshotPath(): string {
  if (process.env.UPDATE_SCREENSHOT !== "1") return join(tmpdir(), `bot-host-playground-${process.pid}.png`);
  mkdirSync(resolve(ROOT, "docs"), { recursive: true });
  return SCREENSHOT;
}
