import { resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { callbackQuery, command, message } from "../support/updates.js";
import { buildYaml, fakeToken, uniquePrefix } from "../support/harness.js";
import { useHost } from "../support/host-fixture.js";

const redisUrl = inject("redisUrl");
const APP = resolve(import.meta.dirname, "../../dist/examples/support-desk/index.js");
const ADMIN = 9001;

describe("the support-desk example app", () => {
  const fx = useHost();

  it("forwards /help to the admins, takes the admin's answer back to the member, and never blocks other chats or bots", async () => {
    const fake = await fx.startFake();
    const desk = { id: "desk", token: fakeToken(300) };
    const other = { id: "other", token: fakeToken(301) };
    fake.addBot(desk.token);
    fake.addBot(other.token);
    await fx.start(
      buildYaml({
        apiRoot: fake.apiRoot,
        redisUrl,
        prefix: uniquePrefix(),
        app: APP,
        bots: [desk, other],
        appConfig: `app_config:\n  admin_chats: [${ADMIN}]`,
      }),
    );
    const sentTo = (token: string, chat: number) => fake.sent(token).filter((s) => s.chat_id === chat);

    // member in chat A asks
    fake.inject(desk.token, command(101, "help", "my printer is on fire"));
    await fake.waitFor(() => sentTo(desk.token, ADMIN).length === 1 && sentTo(desk.token, 101).length === 1);
    const forwarded = sentTo(desk.token, ADMIN)[0]!;
    expect(forwarded.text).toBe("Help request from User 101 (chat 101):\nmy printer is on fire");
    expect(forwarded.reply_markup).toEqual({
      inline_keyboard: [
        [
          { text: "Answer", callback_data: "answer:101" },
          { text: "Delete", callback_data: "delete" },
        ],
      ],
    });
    expect(sentTo(desk.token, 101)[0]!.text).toBe("Thanks! Your question was sent to the support team.");

    // the admin presses Answer: now mid-answer, their step lives in the admin chat's session
    fake.inject(desk.token, callbackQuery(ADMIN, "answer:101", { messageId: forwarded.message_id }));
    await fake.waitFor(() => sentTo(desk.token, ADMIN).length === 2);
    expect(sentTo(desk.token, ADMIN)[1]!.text).toBe("Type your answer to chat 101; your next message is sent there.");

    // meanwhile chat B and the same chat id on another bot are served at once
    fake.inject(desk.token, command(102, "help", "second question"));
    fake.inject(other.token, command(101, "help", "question to the other bot"));
    await fake.waitFor(() => sentTo(desk.token, 102).length === 1 && sentTo(other.token, 101).length === 1, 3_000);
    expect(sentTo(other.token, ADMIN)[0]!.text).toBe("Help request from User 101 (chat 101):\nquestion to the other bot");
    // a member's plain message does not leak into the admin's pending answer
    fake.inject(desk.token, message(101, "hello?"));
    await fake.waitFor(() => sentTo(desk.token, 101).length === 2);
    expect(sentTo(desk.token, 101)[1]!.text).toBe("Send /help followed by your question.");

    // the admin's next message goes back to the member
    fake.inject(desk.token, message(ADMIN, "Unplug it and run."));
    // the member's answer and the admin's confirmation are two sends: wait for both
    await fake.waitFor(() => sentTo(desk.token, 101).length === 3 && sentTo(desk.token, ADMIN).length === 4);
    expect(sentTo(desk.token, 101)[2]!.text).toBe("Answer from support:\nUnplug it and run.");
    expect(sentTo(desk.token, ADMIN).at(-1)!.text).toBe("Sent to chat 101.");

    // Delete edits the request
    fake.inject(desk.token, callbackQuery(ADMIN, "delete", { messageId: forwarded.message_id }));
    await fake.waitFor(() => fake.sent(desk.token).some((s) => s.text === "(request deleted)"));
  });
});
