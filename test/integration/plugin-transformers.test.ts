import { describe, expect, inject, it } from "vitest";
import { message } from "../support/updates.js";
import { buildYaml, fakeToken, fixture, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";

const redisUrl = inject("redisUrl");

// Replies go straight to the shared transport (see src/runtime/direct-calls.ts): what plugins install on ctx.api
// must still apply, and the errors must still be grammY's.
describe("Bot API calls through plugins' transformers", () => {
  const fx = useHost();

  async function start(): Promise<{ token: string }> {
    const fake = await fx.startFake();
    const token = fakeToken(90);
    fake.addBot(token);
    const yaml = buildYaml({
      apiRoot: fake.apiRoot,
      redisUrl,
      prefix: uniquePrefix(),
      app: fixture("plugins-app.js"),
      bots: [{ id: "plug", token }],
    });
    await fx.start(yaml);
    return { token };
  }

  it("parse-mode on ctx.api formats the reply and the edit hydrate's editText makes on the returned message", async () => {
    const { token } = await start();
    fx.fake.inject(token, message(1, "edit"));
    await fx.fake.waitForSent(token, 2);
    const sent = fx.fake.sent(token);
    expect(sent.map((s) => [s.method, s.text])).toEqual([
      ["sendMessage", "<b>first</b>"],
      ["editMessageText", "<i>second</i>"],
    ]);
    expect(sent[1]!.message_id).toBe(sent[0]!.message_id);
    const calls = fx.fake.calls(token).filter((c) => c.method === "sendMessage" || c.method === "editMessageText");
    expect(calls.map((c) => c.params.parse_mode)).toEqual(["HTML", "HTML"]);
  });

  it("a file upload goes out as multipart with parse-mode applied to its caption", async () => {
    const { token } = await start();
    fx.fake.inject(token, message(2, "file"));
    await fx.fake.waitFor(() => fx.fake.calls(token).some((c) => c.method === "sendDocument" && c.status === 200));
    const call = fx.fake.calls(token).find((c) => c.method === "sendDocument")!;
    expect(call.params).toMatchObject({ caption: "<b>doc</b>", parse_mode: "HTML", document: expect.stringMatching(/^attach:\/\//) });
    // the file itself is the multipart part the document field points at
    const part = String(call.params.document).slice("attach://".length);
    expect(call.params[part]).toEqual({ filename: "hello.txt", size: 5 });
  });

  it("an error answer reaches the app as grammY's GrammyError, with its code and method", async () => {
    const { token } = await start();
    fx.fake.inject(token, message(3, "fail"));
    await fx.fake.waitForSent(token, 1);
    expect(fx.fake.sent(token)[0]!.text).toBe("caught GrammyError 400 sendMessage");
  });
});
