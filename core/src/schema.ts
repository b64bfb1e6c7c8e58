/**
 * A small runtime-validation kit whose schemas also give the static type (`Infer<typeof s>`), so
 * the protocol is written once and checked at every socket boundary.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export interface Schema<T> {
  parse(value: unknown, path: string): Result<T>;
  readonly optional?: boolean;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = (path: string, what: string): Result<never> => ({ ok: false, error: `${path || 'message'}: ${what}` });

export function string(opts: { min?: number; max?: number; pattern?: RegExp; describe?: string } = {}): Schema<string> {
  return {
    parse(v, path) {
      if (typeof v !== 'string') return fail(path, 'must be a string');
      if (opts.min !== undefined && v.length < opts.min) return fail(path, `must have at least ${opts.min} characters`);
      if (opts.max !== undefined && v.length > opts.max) return fail(path, `must have at most ${opts.max} characters`);
      if (opts.pattern && !opts.pattern.test(v)) return fail(path, `must be ${opts.describe ?? `like ${opts.pattern}`}`);
      return ok(v);
    },
  };
}

/** A non-negative safe integer (sequence numbers, revisions, timestamps). */
export function count(opts: { min?: number; max?: number } = {}): Schema<number> {
  return {
    parse(v, path) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return fail(path, 'must be an integer');
      if (v < (opts.min ?? 0)) return fail(path, `must be at least ${opts.min ?? 0}`);
      if (opts.max !== undefined && v > opts.max) return fail(path, `must be at most ${opts.max}`);
      return ok(v);
    },
  };
}

export function boolean(): Schema<boolean> {
  return { parse: (v, path) => (typeof v === 'boolean' ? ok(v) : fail(path, 'must be a boolean')) };
}

export function literal<T extends string | boolean | number>(expected: T): Schema<T> {
  return { parse: (v, path) => (v === expected ? ok(expected) : fail(path, `must be ${JSON.stringify(expected)}`)) };
}

export function oneOf<T extends string>(values: readonly T[]): Schema<T> {
  return {
    parse: (v, path) => ((values as readonly unknown[]).includes(v) ? ok(v as T) : fail(path, `must be one of ${values.join(', ')}`)),
  };
}

/** Anything; the caller validates it further (document content, patches). */
export function unknownValue(): Schema<unknown> {
  return { parse: (v) => ok(v) };
}

/** Any JSON value, but present: the caller validates it further (a query). */
export function requiredValue(describe: string): Schema<unknown> {
  return { parse: (v, path) => (v === undefined ? fail(path, `is required (${describe})`) : ok(v)) };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return { parse: (v, path) => (v === null ? ok(null) : inner.parse(v, path)) };
}

export function optional<T>(inner: Schema<T>): Schema<T | undefined> {
  return { optional: true, parse: (v, path) => (v === undefined ? ok(undefined) : inner.parse(v, path)) };
}

export function array<T>(item: Schema<T>, opts: { max?: number } = {}): Schema<T[]> {
  return {
    parse(v, path) {
      if (!Array.isArray(v)) return fail(path, 'must be an array');
      if (opts.max !== undefined && v.length > opts.max) return fail(path, `must have at most ${opts.max} items`);
      const out: T[] = [];
      for (let i = 0; i < v.length; i++) {
        const r = item.parse(v[i], `${path}[${i}]`);
        if (!r.ok) return r;
        out.push(r.value);
      }
      return ok(out);
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends { optional: true } ? K : undefined extends Infer<S[K]> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> };

/**
 * An object with the given fields. Unknown fields are dropped from the parsed value (so later
 * protocol versions can add fields), never copied through.
 */
export function object<S extends Shape>(shape: S): Schema<{ [K in keyof ObjectOf<S>]: ObjectOf<S>[K] }> {
  return {
    parse(v, path) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail(path, 'must be an object');
      const src = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(shape)) {
        const own = Object.prototype.hasOwnProperty.call(src, key) ? src[key] : undefined;
        const r = shape[key]!.parse(own, path ? `${path}.${key}` : key);
        if (!r.ok) return r;
        if (r.value !== undefined) out[key] = r.value;
      }
      return ok(out as never);
    },
  };
}
