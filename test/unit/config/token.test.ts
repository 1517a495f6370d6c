import { describe, expect, it } from "vitest";
import { TOKEN_PATTERN, redactToken, redactTokensIn, redactUrl, telegramBotIdOf } from "../../../src/config/index.js";
import { T1, T2 } from "./helpers.js";

describe("token helpers", () => {
  it("TOKEN_PATTERN accepts Bot API tokens and rejects anything else", () => {
    expect(TOKEN_PATTERN.test(T1)).toBe(true);
    expect(TOKEN_PATTERN.test(`123456789:AAH-${"x_Y9".repeat(8)}`)).toBe(true);
    expect(TOKEN_PATTERN.test(`1:${"a".repeat(29)}`)).toBe(false);
    expect(TOKEN_PATTERN.test(`1:${"a".repeat(101)}`)).toBe(false);
    expect(TOKEN_PATTERN.test(`x1:${"a".repeat(35)}`)).toBe(false);
    expect(TOKEN_PATTERN.test(` ${T1}`)).toBe(false);
    expect(TOKEN_PATTERN.test(`1:${"a".repeat(34)}!`)).toBe(false);
  });

  it("telegramBotIdOf returns the numeric part", () => {
    expect(telegramBotIdOf(T1)).toBe("100001");
  });

  it("redactToken keeps only the bot id, and nothing of a string that is not a token", () => {
    expect(redactToken(T1)).toBe("100001:***");
    expect(redactToken("hunter2")).toBe("***");
    expect(redactToken("secret:value")).toBe("***");
  });

  it("redactTokensIn replaces every token in a text", () => {
    expect(redactTokensIn(`a ${T1} b ${T2}c`)).toBe("a 100001:*** b 100002:***");
    expect(redactTokensIn("no token 12:34 here")).toBe("no token 12:34 here");
  });

  it("redactUrl hides the password only", () => {
    expect(redactUrl("redis://user:pass@host:6379/0")).toBe("redis://user:***@host:6379/0");
    expect(redactUrl("rediss://:pass@host")).toBe("rediss://:***@host");
    expect(redactUrl("redis://host:6379")).toBe("redis://host:6379");
    expect(redactUrl("redis://user@host")).toBe("redis://user@host");
    expect(redactUrl("not a url //user:pass@host")).toBe("not a url //user:***@host");
  });
});
