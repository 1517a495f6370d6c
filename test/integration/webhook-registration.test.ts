import { Api } from "grammy";
import { afterEach, describe, expect, it } from "vitest";
import { LocalBotApi } from "../support/fake-bot-api.js";
import { fakeToken } from "../support/harness.js";
import type { WebhookRegistration } from "../../src/storage/bot-info-store.js";
import { ensureWebhook, REGISTRATION_TRUSTED_MS, type WebhookSpec } from "../../src/runtime/webhook-registration.js";

const SPEC: WebhookSpec = { url: "http://127.0.0.1:9/tg/a", secret: "s3cret-token_1", allowedUpdates: ["message"], maxConnections: 40 };

describe("a webhook registration is remembered: setWebhook only when it changed or Telegram lost it", () => {
  let fake: LocalBotApi | undefined;
  afterEach(async () => {
    await fake?.stop();
  });

  it("sets once, then calls nothing; an old record is confirmed with getWebhookInfo; a change or a lost webhook sets again", async () => {
    fake = await LocalBotApi.start();
    const token = fakeToken(901);
    fake.addBot(token);
    const api = new Api(token, { apiRoot: fake.apiRoot });
    let record: WebhookRegistration | undefined;
    const save = async (r: WebhookRegistration): Promise<void> => {
      record = r;
    };
    const calls = (): string[] => fake!.calls(token).map((c) => c.method);
    const now = Date.now();

    expect(await ensureWebhook({ api, spec: SPEC, record, save, now })).toBe("set");
    expect(fake.webhook(token)).toMatchObject({ url: SPEC.url, secret_token: SPEC.secret, max_connections: 40 });
    expect(calls()).toEqual(["setWebhook"]);
    expect(JSON.stringify(record)).not.toContain(SPEC.secret); // only a fingerprint is kept

    expect(await ensureWebhook({ api, spec: SPEC, record, save, now: now + 1_000 })).toBe("unchanged");
    expect(calls()).toEqual(["setWebhook"]);

    const later = now + REGISTRATION_TRUSTED_MS + 1;
    expect(await ensureWebhook({ api, spec: SPEC, record, save, now: later })).toBe("confirmed");
    expect(calls()).toEqual(["setWebhook", "getWebhookInfo"]);
    expect(record!.at).toBe(later);

    await api.deleteWebhook(); // changed by hand behind the host's back
    expect(await ensureWebhook({ api, spec: SPEC, record, save, now: later + REGISTRATION_TRUSTED_MS })).toBe("set");
    expect(fake.webhook(token)?.url).toBe(SPEC.url);

    const moved = { ...SPEC, maxConnections: 10 };
    expect(await ensureWebhook({ api, spec: moved, record, save, now: later + REGISTRATION_TRUSTED_MS + 1 })).toBe("set");
    expect(fake.webhook(token)?.max_connections).toBe(10);
    expect(calls().filter((m) => m === "setWebhook")).toHaveLength(3);
  });
});
