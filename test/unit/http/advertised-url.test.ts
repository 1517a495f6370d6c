import { networkInterfaces } from "node:os";
import { describe, expect, it } from "vitest";
import { advertisedUrl } from "../../../src/http/webhook-forward.js";

describe("advertisedUrl (how other instances reach this one)", () => {
  it("is http.advertise_url when set, the bound address otherwise, and a real interface when bound to all", () => {
    expect(advertisedUrl({ host: "127.0.0.1", port: 8080 }, "https://pod-3.bots.internal:8443")).toBe("https://pod-3.bots.internal:8443");
    expect(advertisedUrl({ host: "10.1.2.3", port: 9000 }, undefined)).toBe("http://10.1.2.3:9000");
    expect(advertisedUrl({ host: "::1", port: 9000 }, undefined)).toBe("http://[::1]:9000");
    expect(advertisedUrl(undefined, undefined)).toBeUndefined();
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === "IPv4" && !i.internal);
    expect(advertisedUrl({ host: "0.0.0.0", port: 8080 }, undefined)).toBe(`http://${external?.address ?? "127.0.0.1"}:8080`);
  });
});
