/**
 * The layers of src/, lowest first; a module may import its own layer or a lower one, never a higher one,
 * and no two folders import each other. Run by `npm run lint:deps` (in .ci/run).
 *
 *   errors, config, logging  ->  storage, transport  ->  runtime  ->  http, lifecycle  ->  host  ->  cli
 *
 * `local-api/` (the local Bot API) stands apart: only the CLI's bench and playground commands (and `playground/`, the
 * playground's supervisor) and the tests use it.
 */
const LAYERS = [
  ["src/errors\\.ts", "src/config/", "src/logging/"],
  ["src/storage/", "src/transport/"],
  ["src/runtime/"],
  ["src/http/", "src/lifecycle/"],
  ["src/host/"],
  ["src/cli/", "src/playground/", "src/index\\.ts"],
];

const higher = (i) => LAYERS.slice(i + 1).flat();
const rules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${i}-imports-up`,
  comment: `${layer.join(", ")} must not import ${higher(i).join(", ")}`,
  severity: "error",
  from: { path: `^(${layer.join("|")})` },
  to: { path: `^(${higher(i).join("|")})` },
}));

/** Two folders of one layer: `from` must not import `to` (so the two never import each other). */
function peer(from, to) {
  return { name: `${from}-not-${to}`, severity: "error", from: { path: `^${from}` }, to: { path: `^${to}` } };
}

module.exports = {
  forbidden: [
    ...rules,
    peer("src/storage/", "src/transport/"),
    peer("src/transport/", "src/storage/"),
    peer("src/lifecycle/", "src/http/"),
    peer("src/logging/", "src/(config/|errors\\.ts)"),
    peer("src/errors\\.ts", "src/(config|logging)/"),
    // The commands reach the HTTP server only through the host (or over HTTP, as `bot-host reload` does).
    peer("src/cli/", "src/http/"),
    // The playground runs the host as a child process (so the page can restart and kill it): it never loads it.
    peer("src/playground/", "src/(host/|runtime/|http/|lifecycle/|transport/)"),
    peer("src/playground/", "src/cli/"),
    {
      name: "no-folder-cycles",
      comment: "folders of src/ must not import each other in a circle",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "local-api-only-for-bench-and-playground",
      comment: "the local Bot API is never loaded by the host; only `bot-host bench` and `bot-host playground` may use it",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(local-api/|playground/|cli/(bench|playground)\\.ts)" },
      to: { path: "^src/local-api/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
