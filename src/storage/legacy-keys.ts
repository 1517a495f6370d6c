import type { Redis } from "ioredis";
import { BotHostError, ErrorCodes } from "../errors.js";
import { legacyKeys } from "./keys.js";

/** What {@link migrateLegacyKeys} did (or, with `dryRun`, would do). */
export interface MigrationReport {
  /** Keys renamed to the tagged layout. */
  readonly moved: number;
  /** Old keys left in place because the new key already exists (old name -> new name). */
  readonly conflicts: ReadonlyArray<readonly [string, string]>;
}

const SCAN_COUNT = 1_000;

async function scanAll(redis: Redis, match: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", match, "COUNT", SCAN_COUNT);
    found.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  return found;
}

/**
 * Renames every key of `botIds` from the untagged layout (`journal:<botId>`, `session:<botId>:<chat>`, ...) to
 * the hash-tagged one (`journal:{<botId>}`, `session:{<botId>}:<chat>`, ...), each with RENAMENX so an existing
 * new key is never overwritten (it is reported instead). Old keys exist only on a single Redis server (the
 * layout before Cluster support), where RENAMENX between any two keys works. Idempotent.
 */
export async function migrateLegacyKeys(redis: Redis, prefix: string, botIds: readonly string[], dryRun = false): Promise<MigrationReport> {
  let moved = 0;
  const conflicts: Array<readonly [string, string]> = [];
  for (const botId of botIds) {
    const legacy = legacyKeys(prefix, botId);
    const pairs: Array<readonly [string, string]> = [...legacy.single];
    for (const { match, rename } of legacy.patterns) {
      for (const oldKey of await scanAll(redis, match)) {
        const newKey = rename(oldKey);
        if (newKey !== undefined) pairs.push([oldKey, newKey]);
      }
    }
    for (const [oldKey, newKey] of pairs) {
      if ((await redis.exists(oldKey)) === 0) continue;
      if (dryRun) {
        if ((await redis.exists(newKey)) === 1) conflicts.push([oldKey, newKey]);
        else moved++;
        continue;
      }
      if ((await redis.renamenx(oldKey, newKey)) === 1) moved++;
      else conflicts.push([oldKey, newKey]);
    }
  }
  return { moved, conflicts };
}

/** The bots among `botIds` that still have a journal or a cursor in the untagged layout. */
export async function botsWithLegacyKeys(redis: Redis, prefix: string, botIds: readonly string[]): Promise<string[]> {
  const found = await Promise.all(
    botIds.map(async (botId) => {
      const [journal, offset] = legacyKeys(prefix, botId).single;
      // One key per command: on a cluster two untagged keys may live in different slots.
      const n = (await redis.exists(journal![0])) + (await redis.exists(offset![0]));
      return n > 0 ? botId : undefined;
    }),
  );
  return found.filter((b): b is string => b !== undefined);
}

/**
 * Refuses to run `botIds` while Redis still holds their journal or cursor under the old, untagged key names:
 * starting would lose the cursor and the unfinished updates (the new names would start empty).
 */
export async function assertCurrentKeyLayout(redis: Redis, prefix: string, botIds: readonly string[]): Promise<void> {
  const legacy = await botsWithLegacyKeys(redis, prefix, botIds);
  if (legacy.length === 0) return;
  throw new BotHostError(
    ErrorCodes.LEGACY_KEYS,
    `Redis holds state of bot(s) ${legacy.join(", ")} under the key names of an earlier bot-host version; stop every instance, ` +
      "run `bot-host migrate-keys --config <your bots.yaml>` once, then start again",
  );
}
