import Module, { createRequire } from "node:module";

type Fetch = (...args: unknown[]) => Promise<unknown>;

/**
 * Keeps grammY from loading node-fetch until something calls grammY's default `fetch`. grammY's Node build
 * requires node-fetch when it loads (its default transport), and node-fetch requires whatwg-url with its Unicode
 * tables: about 2 MB of heap and 40 to 70 ms at start. The host never uses that transport (every `Api` it makes is
 * given the shared transport's `fetch`), but an app may build its own `Api` without one: for it, the first call
 * loads the real node-fetch and goes on with it. Must run before grammY is first loaded; does nothing when
 * grammY no longer requires node-fetch (or it was loaded already). Returns whether the stand-in was installed.
 */
export function deferGrammyDefaultFetch(): boolean {
  try {
    const fromGrammy = createRequire(createRequire(import.meta.url).resolve("grammy"));
    const path = fromGrammy.resolve("node-fetch");
    const cache = fromGrammy.cache;
    if (cache[path] !== undefined) return false;
    // The real module's exports (a function with `default`, `Headers`, ... on it), loaded on first use. grammY
    // holds the stand-in: drop it from the cache and load the real module in its place.
    let real: (Fetch & Record<PropertyKey, unknown>) | undefined;
    const load = (): Fetch & Record<PropertyKey, unknown> => {
      if (real === undefined) {
        delete cache[path];
        real = fromGrammy("node-fetch") as Fetch & Record<PropertyKey, unknown>;
      }
      return real;
    };
    const fetch: Fetch = (...args) => load()(...args);
    // Anything but grammY's `default` (an app's own `require("node-fetch")`, its `Headers`) loads the real module.
    const exports = new Proxy(fetch, {
      get: (_target, key) => (key === "default" ? fetch : key === "__esModule" ? true : load()[key]),
      has: (_target, key) => key in load(),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_target, key) => {
        const d = Reflect.getOwnPropertyDescriptor(load(), key);
        // A proxy may not report a property its target lacks as non-configurable.
        return d === undefined ? undefined : { ...d, configurable: true };
      },
    });
    const stand = new Module(path);
    stand.filename = path;
    stand.loaded = true;
    stand.exports = exports;
    cache[path] = stand;
    return true;
  } catch {
    return false;
  }
}
