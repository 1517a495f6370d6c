import { defineConfig } from "vitest/config";

/** The Redis Cluster and Sentinel failover drills of test/drills/redis-topologies.test.ts, on their own. */
export default defineConfig({
  test: {
    include: ["test/drills/redis-topologies.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
