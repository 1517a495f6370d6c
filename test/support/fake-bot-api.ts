// The local Bot API ships with the package (src/local-api, `bot-host/local-api`) so that `bot-host bench`, the
// playground and apps can use it; tests import it here.
export * from "../../src/local-api/local-bot-api.js";
export * from "../../src/local-api/updates.js";
