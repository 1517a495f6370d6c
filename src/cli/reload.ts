import { request } from "node:http";
import { loadConfig, type Config } from "../config/index.js";
import { ExitCodes } from "../errors.js";
import { parseListen } from "../config/listen.js";
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
    const res = await post(`http://${target}:${port}/-/reload`, 120_000);
    const report = JSON.parse(res.body) as {
      ok?: boolean;
      issues?: string[];
      added?: string[];
      removed?: string[];
      restarted?: string[];
      unchanged?: string[];
      needsRestart?: string[];
    };
    if (res.status === 200) {
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
    process.stderr.write(
      `cannot reach the host at http://${target}:${port}/-/reload (${err instanceof Error ? err.message : String(err)}); is it running?\n`,
    );
    return ExitCodes.RUNTIME;
  }
}

/**
 * One POST without a body, answered with its status and text. node:http rather than undici: one request to
 * loopback does not need a connection pool, and undici would double the command's start time.
 */
function post(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
