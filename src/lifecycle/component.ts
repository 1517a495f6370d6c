/** A long-lived part of the host: started and stopped by the host in a fixed, written-down order. */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  /** Idempotent: a second call returns the first call's promise. */
  stop(): Promise<void>;
}
