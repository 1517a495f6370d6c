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
    let real: Fetch | undefined;
    const fetch: Fetch = (...args) => {
      if (real === undefined) {
        // grammY holds this stand-in's exports: drop it from the cache and load the real module beside it.
        delete cache[path];
        real = (fromGrammy("node-fetch") as { default: Fetch }).default;
      }
      return real(...args);
    };
    const stand = new Module(path);
    stand.filename = path;
    stand.loaded = true;
    stand.exports = { __esModule: true, default: fetch };
    cache[path] = stand;
    return true;
  } catch {
    return false;
  }
}
