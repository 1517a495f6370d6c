// The fake Bot API ships with the package (src/testing) so that `bot-host bench` can use it; tests import it here.
export * from "../../src/testing/fake-bot-api.js";
