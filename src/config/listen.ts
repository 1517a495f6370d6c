/** Splits `http.listen`, `host:port` (IPv6 hosts in brackets), into its parts. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(listen);
  if (m === null) throw new Error(`http.listen must be host:port, got ${listen}`);
  return { host: m[1] ?? "0.0.0.0", port: Number(m[2]) };
}
