import { connect, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A TCP proxy in front of a local server, which a test can cut (every connection is reset at once, new ones are
 * refused) and heal: an instance's link to the Bot API failing while everything else works.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cutOff = false;

  private constructor(targetPort: number) {
    this.server = createServer((client) => {
      if (this.cutOff) return void client.resetAndDestroy();
      const upstream = connect(targetPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }

  /** Starts a proxy to `127.0.0.1:targetPort` on a free loopback port. */
  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /** `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resets every connection and refuses new ones until {@link heal}. */
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.resetAndDestroy();
  }

  heal(): void {
    this.cutOff = false;
  }

  stop(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
