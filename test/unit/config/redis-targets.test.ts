import { describe, expect, it } from "vitest";
import { errorOf, parse, problems, yaml } from "./helpers.js";

describe("redis: one server, a cluster, or Sentinel", () => {
  it("reads a cluster's seed nodes and Sentinel's sentinels and master name, with auth, TLS and min_replicas", () => {
    const cluster = parse(
      yaml(
        "app: app.js",
        "redis:",
        '  cluster: [ 10.0.0.1:7000, "redis-2.internal:7001" ]',
        "  password: ${REDIS_PASSWORD}",
        "  tls: true",
        "  min_replicas: 1",
        "bots: []",
      ),
      { REDIS_PASSWORD: "s3cret-pass" },
    );
    expect(cluster.redis).toMatchObject({
      target: { kind: "cluster", nodes: ["10.0.0.1:7000", "redis-2.internal:7001"] },
      url: "redis-cluster://10.0.0.1:7000,redis-2.internal:7001",
      password: "s3cret-pass",
      tls: true,
      min_replicas: 1,
    });
    expect(cluster.leases.enabled).toBe(true);
    const sentinel = parse(
      yaml("app: app.js", "redis:", "  sentinel:", '    sentinels: [ "s1:26379", "s2:26379" ]', "    name: mymaster", "bots: []"),
    );
    expect(sentinel.redis).toMatchObject({
      target: { kind: "sentinel", sentinels: ["s1:26379", "s2:26379"], name: "mymaster" },
      min_replicas: 0,
      tls: false,
    });
  });

  it("names the line and field of every mistake, and never prints the password", () => {
    const text = yaml(
      "app: app.js",
      "redis:",
      "  url: redis://r:6379",
      '  cluster: [ "no-port" ]',
      "  sentinel:",
      "    sentinels: []",
      "    nam: x",
      "  password: 9876543210",
      "  min_replicas: 99",
      "bots: []",
    );
    const found = problems(text);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bots\.yaml:4:\d+ redis\.cluster\[0\]: must be host:port/),
        expect.stringMatching(/^bots\.yaml:4:\d+ redis\.cluster: use exactly one of redis\.url, redis\.cluster and redis\.sentinel/),
        expect.stringMatching(/^bots\.yaml:6:\d+ redis\.sentinel\.sentinels: must list at least one sentinel/),
        expect.stringMatching(/^bots\.yaml:7:\d+ redis\.sentinel\.nam/),
        expect.stringMatching(/^bots\.yaml:8:\d+ redis\.password/),
        expect.stringMatching(/^bots\.yaml:9:\d+ redis\.min_replicas/),
      ]),
    );
    const err = errorOf(text);
    expect(err.message + JSON.stringify(err.issues)).not.toContain("9876543210");
  });
});
