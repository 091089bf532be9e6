// A tiny validator for the gateway's JSON config: every leaf carries its
// default, so the default config is `schema.parse(undefined)`, and every
// problem is reported with the dotted path of the value at fault.

export interface Schema<T> {
  readonly default: T;
  /** `raw === undefined` gives the default; a problem is pushed as `"<path>: <message>"`. */
  parse(raw: unknown, path: string, problems: string[]): T;
  /** Turns an environment variable's text into the raw value `parse` takes (leaves only). */
  fromEnv?(text: string): unknown;
  /** For objects: the schema of each field (used to resolve env overrides by path). */
  readonly fields?: Readonly<Record<string, Schema<unknown>>>;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function describe(raw: unknown): string {
  if (raw === null) return "null";
  if (Array.isArray(raw)) return "an array";
  return typeof raw === "object" ? "an object" : JSON.stringify(raw);
}

export function integer(fallback: number, range: { min?: number; max?: number } = {}): Schema<number> {
  return {
    default: fallback,
    parse(raw, path, problems) {
      if (raw === undefined) return fallback;
      if (typeof raw !== "number" || !Number.isSafeInteger(raw)) {
        problems.push(`${path}: expected an integer, got ${describe(raw)}`);
        return fallback;
      }
      if (range.min !== undefined && raw < range.min) problems.push(`${path}: expected >= ${range.min}, got ${raw}`);
      if (range.max !== undefined && raw > range.max) problems.push(`${path}: expected <= ${range.max}, got ${raw}`);
      return raw;
    },
    fromEnv: (text) => (/^-?\d+$/.test(text.trim()) ? Number(text) : text),
  };
}

export function text(fallback: string, check: { pattern?: RegExp; hint?: string } = {}): Schema<string> {
  return {
    default: fallback,
    parse(raw, path, problems) {
      if (raw === undefined) {
        // A default the pattern refuses (an empty id) makes the setting required.
        if (check.pattern !== undefined && !check.pattern.test(fallback)) problems.push(`${path}: required`);
        return fallback;
      }
      if (typeof raw !== "string") {
        problems.push(`${path}: expected a string, got ${describe(raw)}`);
        return fallback;
      }
      if (check.pattern !== undefined && !check.pattern.test(raw)) {
        problems.push(`${path}: expected ${check.hint ?? `to match ${check.pattern}`}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    },
    fromEnv: (value) => value,
  };
}

export function flag(fallback: boolean): Schema<boolean> {
  return {
    default: fallback,
    parse(raw, path, problems) {
      if (raw === undefined) return fallback;
      if (typeof raw !== "boolean") {
        problems.push(`${path}: expected true or false, got ${describe(raw)}`);
        return fallback;
      }
      return raw;
    },
    fromEnv(value) {
      const v = value.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      return value;
    },
  };
}

export function oneOf<const T extends string>(values: readonly T[], fallback: T): Schema<T> {
  return {
    default: fallback,
    parse(raw, path, problems) {
      if (raw === undefined) return fallback;
      if (typeof raw !== "string" || !(values as readonly string[]).includes(raw)) {
        problems.push(`${path}: expected one of ${values.join(", ")}, got ${describe(raw)}`);
        return fallback;
      }
      return raw as T;
    },
    fromEnv: (value) => value,
  };
}

/** An array; from the environment, a comma-separated list of the item's env form. */
export function list<T>(item: Schema<T>, fallback: readonly T[] = []): Schema<T[]> {
  return {
    default: [...fallback],
    parse(raw, path, problems) {
      if (raw === undefined) return [...fallback];
      if (!Array.isArray(raw)) {
        problems.push(`${path}: expected an array, got ${describe(raw)}`);
        return [...fallback];
      }
      return raw.map((value, i) => item.parse(value, `${path}[${i}]`, problems));
    },
    ...(item.fromEnv !== undefined
      ? {
          fromEnv: (value: string) =>
            value
              .split(",")
              .map((part) => part.trim())
              .filter((part) => part !== "")
              .map((part) => item.fromEnv!(part)),
        }
      : {}),
  };
}

/** A map from free-form keys (e.g. a platform name) to values of one schema. */
export function dict<T>(value: Schema<T>, fallback: Readonly<Record<string, T>> = {}, key?: { pattern: RegExp; hint: string }): Schema<Record<string, T>> {
  return {
    default: { ...fallback },
    parse(raw, path, problems) {
      if (raw === undefined) return { ...fallback };
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        problems.push(`${path}: expected an object, got ${describe(raw)}`);
        return { ...fallback };
      }
      const entries: [string, T][] = [];
      for (const [k, v] of Object.entries(raw)) {
        if (key !== undefined && !key.pattern.test(k)) problems.push(`${path}: key ${JSON.stringify(k)} is not ${key.hint}`);
        entries.push([k, value.parse(v, `${path}.${k}`, problems)]);
      }
      // fromEntries defines own properties: a `__proto__` key cannot reach the prototype.
      return Object.fromEntries(entries);
    },
  };
}

type Shape<F extends Record<string, Schema<unknown>>> = { [K in keyof F]: Infer<F[K]> };

/** An object with known fields; an unknown field is a problem (it is most likely a typo). */
export function object<F extends Record<string, Schema<unknown>>>(fields: F): Schema<Shape<F>> {
  const parse = (raw: unknown, path: string, problems: string[]): Shape<F> => {
    const source: Record<string, unknown> = {};
    if (raw !== undefined) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        problems.push(`${path || "config"}: expected an object, got ${describe(raw)}`);
      } else {
        Object.assign(source, raw);
        for (const k of Object.keys(raw)) {
          if (!Object.hasOwn(fields, k)) problems.push(`${path ? `${path}.` : ""}${k}: unknown setting (known: ${Object.keys(fields).join(", ")})`);
        }
      }
    }
    const out: Record<string, unknown> = {};
    for (const [k, schema] of Object.entries(fields)) {
      out[k] = schema.parse(Object.hasOwn(source, k) ? source[k] : undefined, path ? `${path}.${k}` : k, problems);
    }
    return out as Shape<F>;
  };
  return { default: parse(undefined, "", []), parse, fields };
}
