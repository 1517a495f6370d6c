import { request } from "undici";
import { loadConfig, type Config } from "../config/index.js";
import { ExitCodes } from "../lifecycle/shutdown-coordinator.js";
import { parseListen } from "../http/server.js";
import { reportError } from "./print.js";

/**
 * `bot-host reload`: validates the file here first (exit 2 with every problem, the host untouched), then asks
 * the running host to reload it through `POST /-/reload` on its HTTP server (loopback only) and prints the
 * report. Exit 0 when applied, 2 when the host rejected the file, 1 when the host cannot be reached.
 */
export async function runReload(opts: { config: string }): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(opts.config);
  } catch (err) {
    return reportError(err);
  }
  if (config.http.listen === false) {
    process.stderr.write("reload needs the HTTP server (http.listen is false); send SIGHUP to the host's process instead\n");
    return ExitCodes.RUNTIME;
  }
  const { host, port } = parseListen(config.http.listen);
  const target = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  try {
    const res = await request(`http://${target}:${port}/-/reload`, { method: "POST", signal: AbortSignal.timeout(120_000) });
    const report = (await res.body.json()) as { ok?: boolean; issues?: string[]; added?: string[]; removed?: string[]; restarted?: string[]; unchanged?: string[]; needsRestart?: string[] };
    if (res.statusCode === 200) {
      const list = (xs: string[] | undefined): string => (xs === undefined || xs.length === 0 ? "none" : xs.join(", "));
      process.stdout.write(
        `reloaded: added ${list(report.added)}; removed ${list(report.removed)}; restarted ${list(report.restarted)}; unchanged ${report.unchanged?.length ?? 0}\n`,
      );
      if ((report.needsRestart?.length ?? 0) > 0) process.stdout.write(`needs a restart to take effect: ${list(report.needsRestart)}\n`);
      return ExitCodes.OK;
    }
    process.stderr.write(`the host rejected the config:\n${(report.issues ?? []).join("\n")}\n`);
    return ExitCodes.CONFIG;
  } catch (err) {
    process.stderr.write(`cannot reach the host at http://${target}:${port}/-/reload (${err instanceof Error ? err.message : String(err)}); is it running?\n`);
    return ExitCodes.RUNTIME;
  }
}
