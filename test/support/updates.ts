export * from "../../src/testing/updates.js";
