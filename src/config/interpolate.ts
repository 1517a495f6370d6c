/** The result of interpolating one string. */
export interface Interpolated {
  /** The expanded text; references to unset variables are left as written. */
  value: string;
  /** Variables that were referenced without a default and are not set, in order of appearance. */
  missing: string[];
  /** True when the text holds a `${` that is neither a valid reference nor escaped as `$${`. */
  malformed: boolean;
}

// Alternatives, in order: the `$${` escape, a well-formed reference, and any other `${` (malformed).
const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

/**
 * Expands `${VAR}` and `${VAR:-default}` from `env`. As in the shell, the default applies when VAR is unset
 * or empty, and an empty VAR without a default expands to the empty string. `$${` stands for a literal `${`.
 * Unset variables without a default are reported in `missing`, not replaced.
 */
export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): Interpolated {
  const missing: string[] = [];
  let malformed = false;
  const value = text.replace(REF, (match: string, name: string | undefined, fallback: string | undefined) => {
    if (match === "$${") return "${";
    if (name === undefined) {
      malformed = true;
      return match;
    }
    const v = env[name];
    if (fallback !== undefined) return v === undefined || v === "" ? fallback : v;
    if (v === undefined) {
      missing.push(name);
      return match;
    }
    return v;
  });
  return { value, missing, malformed };
}

/** True when `text` contains a `${` (a reference, an escaped `$${`, or a malformed one). */
export function hasReference(text: string): boolean {
  return text.includes("${");
}
