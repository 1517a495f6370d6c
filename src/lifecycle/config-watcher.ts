import { watch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { Logger } from "../logging/logger.js";
import type { Component } from "./component.js";

/** Options of {@link ConfigWatcher}. */
export interface ConfigWatcherOptions {
  path: string;
  /** Quiet time after the last change before `onChange` runs (ms). */
  debounceMs?: number;
  onChange: () => void;
  logger: Logger;
}

/**
 * Watches the config file and calls `onChange` once per burst of edits. It watches the file's directory,
 * not the file, so editors that write a temporary file and rename it over the original are seen too.
 */
export class ConfigWatcher implements Component {
  readonly name = "config-watcher";
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: ConfigWatcherOptions) {}

  async start(): Promise<void> {
    const file = basename(this.o.path);
    this.watcher = watch(dirname(resolve(this.o.path)), { persistent: false }, (_event, name) => {
      if (name !== null && name !== file) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.o.onChange(), this.o.debounceMs ?? 300);
    });
    this.watcher.on("error", (err) =>
      this.o.logger.warn({ err, component: "config-watcher" }, "config file watch failed; SIGHUP and `bot-host reload` still work"),
    );
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
