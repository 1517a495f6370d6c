/**
 * This instance's lease of a bot, when several instances share the bots. While it is not surely valid (a
 * renewal is overdue: the process was paused, or Redis does not answer) the bot starts no new work: no Bot API
 * call is sent, no getUpdates is made and no offset is confirmed; each waits for {@link settled}. Work that
 * finished is still committed with the fence it ran under, and the fence in Redis decides: the same instance
 * keeping its lease commits it, another one's refuses it. Every update is handled under the lease its bot held
 * when the update was received.
 */
export interface Lease {
  /** The fence token every journal and state write of the bot carries. */
  readonly token: string;
  /** `true` while the lease is surely still this instance's (renewed in time). */
  valid(): boolean;
  /**
   * Resolves `true` as soon as the lease is surely valid again (now, or once a renewal answers), `false` once it is
   * known to be lost (another instance took it). Until then it waits: through a Redis outage, for as long as it lasts.
   */
  settled(): Promise<boolean>;
}
