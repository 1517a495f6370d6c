/** Whether a store can take writes now, and why not. */
export interface StoreHealth {
  readonly ok: boolean;
  /** Why writes cannot be taken, for `/readyz` and the log. */
  readonly reason?: string;
}

/**
 * Chat sessions and plugin state, read by full key. Writes are never made here: an update stages them and the
 * {@link Journal} commits them with the update (`Journal.complete`), so state and journal move together.
 */
export interface StateStore {
  /** Reads a raw state value (a session or a plugin's state) by its full key. */
  read(key: string): Promise<string | undefined>;
}
