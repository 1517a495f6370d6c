import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Failover drills that measure Redis Cluster and Sentinel windows (printed, not asserted), with kills of
    // masters under the load of the whole suite: run on their own with `npm run test:topologies`.
    exclude: [...configDefaults.exclude, "test/drills/redis-topologies.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests share one redis-server; each test uses its own key prefix.
    pool: "forks",
  },
});
