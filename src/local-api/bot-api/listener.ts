import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { LocalBotApiOptions } from "./types.js";

/** The HTTP server of a local Bot API on 127.0.0.1, keeping its sockets so that {@link close} can end them all. */
export class Listener {
  /** The port it listens on. */
  readonly port: number;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    this.port = (server.address() as AddressInfo).port;
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
    server.on("clientError", (_err, socket: Socket) => socket.destroy());
  }

  /** Listens on 127.0.0.1 (a free port unless `port` is given). */
  static async open(opts: Pick<LocalBotApiOptions, "port" | "keepAliveTimeoutMs">): Promise<Listener> {
    const server = createServer();
    if (opts.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = opts.keepAliveTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new Listener(server);
  }

  /** Sends every request to `handler`. */
  serve(handler: (req: IncomingMessage, res: ServerResponse) => void): void {
    this.server.on("request", handler);
  }

  /** Stops listening and closes every connection, idle or not. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
