/** The result of interpolating one string. */
export interface Interpolated {
  value: string;
  /** Variables that were referenced without a default and are not set. */
  missing: string[];
}

const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Expands `${VAR}` and `${VAR:-default}` from `env` (the default applies when VAR is unset or empty, as in the
 * shell); `$${` stands for a literal `${`. Unset variables without a default are reported, not replaced.
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): Interpolated {
  const missing: string[] = [];
  const value = text.replace(REF, (match, name: string | undefined, fallback: string | undefined) => {
    if (name === undefined) return "${";
    const v = env[name];
    if (fallback !== undefined) return v === undefined || v === "" ? fallback : v;
    if (v === undefined) {
      missing.push(name);
      return match;
    }
    return v;
  });
  return { value, missing };
}

/** True when `text` contains a `${...}` reference (or an escaped `$${`). */
export function hasReference(text: string): boolean {
  return text.includes("${");
}
