import { afterAll, afterEach, describe, expect, it } from "vitest";
import { Api, GrammyError, HttpError, InputFile } from "grammy";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { fakeToken } from "../support/harness.js";
import { freePort } from "../support/redis-server.js";
import { createSharedTransport, type TransportFetch } from "../../src/transport/shared-transport.js";
import { directCalls } from "../../src/runtime/direct-calls.js";

describe("directCalls: a bot's JSON calls straight on the shared transport", () => {
  let fake: LocalBotApi | undefined;
  const transport = createSharedTransport({ connections: 4 });
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });
  afterAll(() => transport.destroy());

  /** An Api with directCalls innermost; `viaGrammy` counts the calls that took grammY's own request instead. */
  function api(apiRoot: string, token: string): { api: Api; viaGrammy: string[] } {
    const viaGrammy: string[] = [];
    const fetch: TransportFetch = (url, init) => {
      viaGrammy.push(url.slice(url.lastIndexOf("/") + 1));
      return transport.fetch(url, init);
    };
    const a = new Api(token, { apiRoot, fetch: fetch as never });
    a.config.use(directCalls({ apiRoot, token, post: transport.post, timeoutMs: 5_000 }));
    return { api: a, viaGrammy };
  }

  it("sends JSON calls itself (null fields left out, as grammY does) and leaves file uploads to grammY", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(95);
    fake.addBot(token);
    const { api: a, viaGrammy } = api(fake.apiRoot, token);
    const sent = await a.sendMessage(7, "hi", { reply_markup: null as never });
    expect(sent.text).toBe("hi");
    await a.sendDocument(7, new InputFile(Buffer.from("abc"), "a.txt"));
    expect(viaGrammy).toEqual(["sendDocument"]);
    const calls = fake.calls(token);
    expect(calls.map((c) => c.method)).toEqual(["sendMessage", "sendDocument"]);
    expect("reply_markup" in calls[0]!.params).toBe(false);
    expect(calls[1]!.params.document).toMatch(/^attach:\/\//);
  });

  it("an error answer becomes grammY's GrammyError; an unreachable Bot API an HttpError", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(96);
    fake.addBot(token);
    const err = await api(fake.apiRoot, token)
      .api.sendMessage(7, " ")
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrammyError);
    expect(err).toMatchObject({ error_code: 400, method: "sendMessage" });
    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = await api(closed, token)
      .api.sendMessage(7, "x")
      .catch((e: unknown) => e);
    expect(down).toBeInstanceOf(HttpError);
    expect((down as HttpError).message).toBe("Network request for 'sendMessage' failed!");
  });

  it("gives up on a call that gets no answer within its timeout, and honours the caller's signal", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(97);
    fake.addBot(token);
    fake.delayNext(token, "sendMessage", Infinity);
    const a = new Api(token, { apiRoot: fake.apiRoot });
    a.config.use(directCalls({ apiRoot: fake.apiRoot, token, post: transport.post, timeoutMs: 300 }));
    await expect(a.sendMessage(7, "slow")).rejects.toBeInstanceOf(HttpError);
    fake.delayNext(token, "sendMessage", Infinity);
    const abort = new AbortController();
    const pending = a.sendMessage(7, "cancelled", {}, abort.signal as never).catch((e: unknown) => e);
    abort.abort(new Error("the caller gave up"));
    expect(await pending).toBeInstanceOf(HttpError);
  });
});
