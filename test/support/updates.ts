export * from "../../src/local-api/updates.js";
