import { describe, expect, it } from "vitest";
import { memoryLogger } from "../../support/harness.js";
import { scrubTokens } from "../../../src/logging/logger.js";

const TOKEN = `123456:${"A".repeat(35)}`;

describe("logger", () => {
  it("never prints a token: token fields, messages and errors are scrubbed", () => {
    const { logger, lines } = memoryLogger();
    logger.info({ token: TOKEN, bot: "x" }, "plain");
    logger.info(`message with ${TOKEN} inside`);
    logger.error({ err: new Error(`request to https://api.telegram.org/bot${TOKEN}/getMe failed`) }, "failed");
    logger.child({ bot: "y" }).info({ config: { bots: [{ token: TOKEN }] } }, "nested");
    const all = JSON.stringify(lines);
    expect(all).not.toContain("A".repeat(35));
    expect(lines[1]!.msg).toBe("message with 123456:*** inside");
    expect(JSON.stringify(lines[2]!.err)).toContain("bot123456:***/getMe");
    expect(lines[3]!.bot).toBe("y");
  });

  it("scrubTokens leaves ordinary text alone", () => {
    expect(scrubTokens("update 12345 in chat -100123:abc")).toBe("update 12345 in chat -100123:abc");
  });
});
