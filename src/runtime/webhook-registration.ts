import { createHash } from "node:crypto";
import type { Api } from "grammy";
import type { WebhookRegistration } from "../storage/bot-info-store.js";

/** What a webhook bot registers with Telegram. */
export interface WebhookSpec {
  readonly url: string;
  readonly secret: string;
  readonly allowedUpdates: readonly string[] | undefined;
  readonly maxConnections: number;
}

/**
 * After this long a remembered registration is in doubt: the next start asks Telegram (`getWebhookInfo`) whether
 * it still stands before trusting it (someone may have changed the webhook by hand), instead of setting it again.
 */
export const REGISTRATION_TRUSTED_MS = 24 * 60 * 60 * 1000;

/** A fingerprint of everything `setWebhook` sends (the secret only as part of a hash). */
export function registrationFingerprint(spec: WebhookSpec): string {
  const what = JSON.stringify([spec.url, spec.secret, spec.allowedUpdates ?? null, spec.maxConnections]);
  return createHash("sha256").update(what).digest("hex").slice(0, 32);
}

/** How {@link ensureWebhook} found the registration. */
export type RegistrationOutcome = "unchanged" | "confirmed" | "set";

/**
 * Makes sure Telegram delivers to `spec` with as few calls as it takes: none when this host registered the same
 * thing less than {@link REGISTRATION_TRUSTED_MS} ago (a restart, a lease handover); `getWebhookInfo` when that
 * record is older (the registration is kept if Telegram still has it); `setWebhook` otherwise. The record is
 * saved after each call that proved or made it.
 */
export async function ensureWebhook(o: {
  api: Api;
  spec: WebhookSpec;
  record: WebhookRegistration | undefined;
  save: (record: WebhookRegistration) => Promise<void>;
  now?: number;
}): Promise<RegistrationOutcome> {
  const { api, spec } = o;
  const now = o.now ?? Date.now();
  const fingerprint = registrationFingerprint(spec);
  if (o.record?.fingerprint === fingerprint) {
    if (now - o.record.at < REGISTRATION_TRUSTED_MS) return "unchanged";
    const info = await api.getWebhookInfo();
    const sameUpdates =
      spec.allowedUpdates === undefined ||
      JSON.stringify([...(info.allowed_updates ?? [])].sort()) === JSON.stringify([...spec.allowedUpdates].sort());
    if (info.url === spec.url && info.max_connections === spec.maxConnections && sameUpdates) {
      await o.save({ fingerprint, at: now });
      return "confirmed";
    }
  }
  await api.setWebhook(spec.url, {
    secret_token: spec.secret,
    allowed_updates: spec.allowedUpdates as never,
    max_connections: spec.maxConnections,
  });
  await o.save({ fingerprint, at: now });
  return "set";
}
