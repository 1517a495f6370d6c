import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/** The name of this instance: `leases.instance` when set, else the host name (a container's or pod's survives a restart). */
export function instanceName(configured: string | undefined): string {
  return (configured ?? hostname()).replace(/[^A-Za-z0-9_.-]/g, "-");
}

/**
 * A unique, readable id for this process: `<name>#<pid>-<random>`. The name is what a restart keeps; a new process
 * with the name of an ended one takes its leases over at once (see `LeaseTaker`).
 */
export function newInstanceId(name: string): string {
  return `${name}#${process.pid}-${randomBytes(3).toString("hex")}`;
}
