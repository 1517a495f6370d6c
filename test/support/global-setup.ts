import type { TestProject } from "vitest/node";
import { hasRedisServer, REDIS_MISSING, startRedisServer, type RedisServer } from "./redis-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let server: RedisServer | undefined;

/** Starts one real redis-server for the whole run; tests read its URL with `inject("redisUrl")`. */
export async function setup(project: TestProject): Promise<void> {
  if (!hasRedisServer()) {
    console.error(REDIS_MISSING);
    throw new Error(REDIS_MISSING);
  }
  server = await startRedisServer();
  project.provide("redisUrl", server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
