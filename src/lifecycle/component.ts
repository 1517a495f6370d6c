/** A long-lived part of the host: started and stopped by the host in a fixed, written-down order. */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  /** Idempotent: a second call returns the first call's promise. */
  stop(): Promise<void>;
}

/** Runs `step`, returning its duration in ms and its error (if any) instead of throwing. */
export async function timed<T>(step: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await step();
    return { ms: Math.round(performance.now() - t0), value };
  } catch (error) {
    return { ms: Math.round(performance.now() - t0), error };
  }
}
