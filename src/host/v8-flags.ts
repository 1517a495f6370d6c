/**
 * Whether the operator gave V8 `flag` on the node command line or in `NODE_OPTIONS` (`--flag`, `--no-flag`,
 * `--noflag` or `--flag=value`, with `-` or `_`): the host then leaves that setting alone. Node takes only a few V8
 * flags from `NODE_OPTIONS` (`--jitless` is one of them); the rest can only come on the command line.
 */
export function operatorSetsFlag(flag: string): boolean {
  const name = flag.replace(/^--/, "").replaceAll("_", "-");
  const fromEnv = (process.env.NODE_OPTIONS ?? "").split(/\s+/).filter((arg) => arg.startsWith("--"));
  return [...process.execArgv, ...fromEnv].some((arg) => {
    const key = arg.split("=", 1)[0]!.replace(/^--/, "").replaceAll("_", "-");
    return key === name || key === `no-${name}` || key === `no${name}`;
  });
}

/**
 * `undo`, run once: when the returned function is called, or by itself `maxMs` from now (later if the event loop is
 * busy then), whichever comes first. The timer does not keep the process alive.
 */
export function releaseWithin(undo: () => void, maxMs: number): () => void {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    clearTimeout(timer);
    undo();
  };
  const timer = setTimeout(release, maxMs);
  timer.unref();
  return release;
}
