import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { ShutdownCoordinator } from "../../../src/lifecycle/shutdown-coordinator.js";
import { memoryLogger } from "../../support/harness.js";

function setup(stop: () => Promise<void>) {
  const proc = new EventEmitter();
  const exits: number[] = [];
  const { logger, lines } = memoryLogger();
  const c = new ShutdownCoordinator({ logger, exit: (code) => exits.push(code), processLike: proc as never });
  c.install();
  c.watch({ stop, cutReport: () => ({ total: 2, bots: [{ bot: "a", update_ids: [7, 8] }] }) });
  return { proc, exits, lines, c };
}

// Waits for a state; the test's own timeout is the only limit.
const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe("ShutdownCoordinator", () => {
  it("stops once on the first signal and exits 0", async () => {
    let stops = 0;
    const { proc, exits } = setup(async () => void stops++);
    proc.emit("SIGTERM", "SIGTERM");
    await until(() => exits.length > 0);
    expect(exits).toEqual([0]);
    expect(stops).toBe(1);
  });

  it("exits 130 at once on a second SIGINT and names the cut updates", async () => {
    const { proc, exits, lines } = setup(() => new Promise(() => {}));
    proc.emit("SIGINT", "SIGINT");
    proc.emit("SIGINT", "SIGINT");
    await until(() => exits.length > 0);
    expect(exits).toEqual([130]);
    const cut = lines.find((l) => l.msg?.startsWith("second SIGINT"));
    expect(cut).toMatchObject({ cut_updates: 2, cut: [{ bot: "a", update_ids: [7, 8] }] });
  });

  it("exits 1 when the stop fails (drain deadline) and reports what was cut", async () => {
    const err = Object.assign(new Error("drain did not finish"), { cut: { total: 1, bots: [{ bot: "b", update_ids: [3] }] } });
    const { proc, exits, lines } = setup(() => Promise.reject(err));
    proc.emit("SIGINT", "SIGINT");
    await until(() => exits.length > 0);
    expect(exits).toEqual([1]);
    expect(lines.find((l) => l.msg === "drain did not finish")).toMatchObject({ cut_updates: 1 });
  });

  it("asks the target to reload on SIGHUP, and not once a stop began", async () => {
    const reloads: string[] = [];
    const proc = new EventEmitter();
    const exits: number[] = [];
    const c = new ShutdownCoordinator({ logger: memoryLogger().logger, exit: (code) => exits.push(code), processLike: proc as never });
    c.install();
    c.watch({ stop: () => new Promise(() => {}), cutReport: () => ({ total: 0, bots: [] }), reload: async (t) => void reloads.push(t) });
    proc.emit("SIGHUP", "SIGHUP");
    expect(reloads).toEqual(["SIGHUP"]);
    proc.emit("SIGTERM", "SIGTERM");
    proc.emit("SIGHUP", "SIGHUP");
    expect(reloads).toEqual(["SIGHUP"]);
    c.uninstall();
    expect(proc.listenerCount("SIGHUP")).toBe(0);
  });

  it("an uncaught exception is logged with its stack, stops the target in order, and exits 1", async () => {
    let stops = 0;
    const { proc, exits, lines } = setup(async () => void stops++);
    proc.emit("uncaughtException", new TypeError("a bug"));
    await until(() => exits.length > 0);
    expect(exits).toEqual([1]);
    expect(stops).toBe(1);
    const line = lines.find((l) => typeof l.msg === "string" && l.msg.startsWith("uncaught exception"));
    expect(line).toMatchObject({ level: 50, err: { type: "TypeError", message: "a bug" } });
    expect(String((line?.err as { stack?: string }).stack)).toContain("TypeError: a bug");
    expect(lines.find((l) => l.msg === "shutdown complete")).toMatchObject({ exit_code: 1 });
  });

  it("an uncaught exception during a signal's stop turns the exit code to 1", async () => {
    let finish!: () => void;
    const { proc, exits } = setup(() => new Promise<void>((r) => (finish = r)));
    proc.emit("SIGTERM", "SIGTERM");
    proc.emit("uncaughtException", new Error("while draining"));
    finish();
    await until(() => exits.length > 0);
    expect(exits).toEqual([1]);
  });

  it("a signal before there is anything to stop exits 0 at once, also before a logger is given", async () => {
    const proc = new EventEmitter();
    const exits: number[] = [];
    const c = new ShutdownCoordinator({ exit: (code) => exits.push(code), processLike: proc as never });
    c.install();
    proc.emit("SIGINT", "SIGINT");
    await until(() => exits.length > 0);
    expect(exits).toEqual([0]);
    expect(c.isStopping).toBe(true);
    c.uninstall();
  });

  it("uninstall removes its handlers", () => {
    const { proc, c } = setup(async () => {});
    expect(proc.listenerCount("SIGINT")).toBe(1);
    c.uninstall();
    expect(proc.listenerCount("SIGINT")).toBe(0);
    expect(proc.listenerCount("SIGTERM")).toBe(0);
    expect(proc.listenerCount("uncaughtException")).toBe(0);
  });
});
