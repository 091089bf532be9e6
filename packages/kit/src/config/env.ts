import { kitErrors } from "../errors/index.ts";

/** One configuration value: the environment variable it comes from, its default and its parser. */
export interface Setting<T> {
  readonly env: string;
  readonly doc: string;
  readonly default: T | undefined;
  /** Returns the value or throws an Error whose message says what is wrong. */
  parse(raw: string): T;
}

type Values<S extends Record<string, Setting<unknown>>> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/**
 * Reads a typed config from the environment. Every setting is checked; one
 * error lists every missing or malformed variable by name, so a bad value stops
 * the process at start with a message an operator can act on.
 *
 *   const config = loadConfig({ port: int("FLOTILLA_PORT", 8080, { min: 0, max: 65535 }) });
 */
export function loadConfig<S extends Record<string, Setting<unknown>>>(schema: S, env: NodeJS.ProcessEnv = process.env): Values<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, setting] of Object.entries(schema)) {
    const raw = env[setting.env];
    if (raw === undefined || raw === "") {
      if (setting.default === undefined) problems.push(`${setting.env} is required (${setting.doc})`);
      else out[key] = setting.default;
      continue;
    }
    try {
      out[key] = setting.parse(raw);
    } catch (error) {
      problems.push(`${setting.env}=${JSON.stringify(raw)} is invalid: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw kitErrors.create("KIT_ERR_CONFIG_INVALID", `invalid configuration:\n  ${problems.join("\n  ")}`);
  return out as Values<S>;
}

export function str(env: string, fallback: string | undefined, doc: string, pattern?: RegExp): Setting<string> {
  return {
    env,
    doc,
    default: fallback,
    parse(raw) {
      if (pattern && !pattern.test(raw)) throw new Error(`expected to match ${pattern}`);
      return raw;
    },
  };
}

export function int(env: string, fallback: number | undefined, doc: string, range: { min?: number; max?: number } = {}): Setting<number> {
  return {
    env,
    doc,
    default: fallback,
    parse(raw) {
      if (!/^-?\d+$/.test(raw.trim())) throw new Error("expected an integer");
      const n = Number(raw);
      if (range.min !== undefined && n < range.min) throw new Error(`expected >= ${range.min}`);
      if (range.max !== undefined && n > range.max) throw new Error(`expected <= ${range.max}`);
      return n;
    },
  };
}

export function bool(env: string, fallback: boolean | undefined, doc: string): Setting<boolean> {
  return {
    env,
    doc,
    default: fallback,
    parse(raw) {
      const v = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      throw new Error("expected true or false");
    },
  };
}

export function oneOf<const T extends string>(env: string, values: readonly T[], fallback: T | undefined, doc: string): Setting<T> {
  return {
    env,
    doc,
    default: fallback,
    parse(raw) {
      if (!(values as readonly string[]).includes(raw)) throw new Error(`expected one of ${values.join(", ")}`);
      return raw as T;
    },
  };
}

/** A URL whose scheme is one of `schemes` (e.g. `["nats:"]`), or one of the bare words in `words` (e.g. `memory`). */
export function url(env: string, fallback: string | undefined, doc: string, schemes: readonly string[], words: readonly string[] = []): Setting<string> {
  return {
    env,
    doc,
    default: fallback,
    parse(raw) {
      if (words.includes(raw)) return raw;
      for (const part of raw.split(",")) {
        let parsed: URL;
        try {
          parsed = new URL(part.trim());
        } catch {
          throw new Error(`expected a URL (${[...schemes.map((s) => `${s}//…`), ...words].join(" or ")})`);
        }
        if (!schemes.includes(parsed.protocol)) throw new Error(`expected scheme ${[...schemes, ...words].join(" or ")}, got ${parsed.protocol}`);
      }
      return raw;
    },
  };
}
