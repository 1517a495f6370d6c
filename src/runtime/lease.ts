/**
 * This instance's lease of a bot, when several instances share the bots: while it is not valid the bot makes
 * no Bot API call and confirms no offset, and its Redis writes are refused by the fence anyway. Every update
 * is handled under the lease its bot held when the update was received.
 */
export interface Lease {
  /** The fence token every journal and state write of the bot carries. */
  readonly token: string;
  /** `false` once the lease may have passed to another instance (not renewed in time, or taken over). */
  valid(): boolean;
}
