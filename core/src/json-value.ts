import { ProtocolError } from './errors.js';
import { DEFAULT_LIMITS, type Limits } from './limits.js';
import { canonicalJson } from './canonical-json.js';

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Keys that would reach an object's prototype in careless JavaScript; refused everywhere. */
export const HOSTILE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks that `value` is plain JSON that every peer reads the same way: no hostile keys, no
 * number a double cannot hold exactly as an integer (|n| > 2^53 - 1), nesting no deeper than
 * `maxDepth`. Throws ProtocolError('invalid_message') naming the offending path.
 */
export function assertJsonValue(value: unknown, maxDepth: number = DEFAULT_LIMITS.max_depth, path = ''): asserts value is JsonValue {
  check(value, maxDepth, 1, path);
}

function check(value: unknown, maxDepth: number, depth: number, path: string): void {
  switch (typeof value) {
    case 'string':
      assertStorableString(value, path);
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new ProtocolError('invalid_message', `${path || '/'}: number is not finite`);
      if (Math.abs(value) > Number.MAX_SAFE_INTEGER) {
        throw new ProtocolError('invalid_message', `${path || '/'}: number beyond ±2^53 cannot be kept exactly`);
      }
      return;
    case 'object':
      break;
    default:
      throw new ProtocolError('invalid_message', `${path || '/'}: ${typeof value} is not JSON`);
  }
  if (value === null) return;
  if (depth > maxDepth) throw new ProtocolError('invalid_message', `${path || '/'}: nesting deeper than ${maxDepth}`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) check(value[i], maxDepth, depth + 1, `${path}/${i}`);
    return;
  }
  if (!isPlainObject(value)) throw new ProtocolError('invalid_message', `${path || '/'}: not a plain JSON object`);
  for (const key of Object.keys(value)) {
    if (HOSTILE_KEYS.has(key)) throw new ProtocolError('invalid_message', `${path || '/'}: key "${key}" is not allowed`);
    assertStorableString(key, path);
    check(value[key], maxDepth, depth + 1, `${path}/${escapePointerToken(key)}`);
  }
}

/**
 * Validates a whole document content: a JSON object, plain JSON throughout, and no larger than
 * `max_document_bytes` as canonical JSON. Returns its JSON text (JSON.stringify order). The size is
 * measured on that text: canonical JSON differs from it only in member order (numbers and strings
 * serialise alike once the content passed the checks above), so the byte counts are equal.
 */
export function assertDocumentContent(content: unknown, limits: Pick<Limits, 'max_depth' | 'max_document_bytes'> = DEFAULT_LIMITS): string {
  if (!isPlainObject(content)) throw new ProtocolError('invalid_message', 'document content must be a JSON object');
  assertJsonValue(content, limits.max_depth);
  const text = JSON.stringify(content);
  if (Buffer.byteLength(text, 'utf8') > limits.max_document_bytes) {
    throw new ProtocolError('message_too_large', `document content exceeds ${limits.max_document_bytes} bytes`);
  }
  return text;
}

// A lone surrogate, or U+0000: neither survives PostgreSQL's JSONB, nor every peer's UTF-8 decoder.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/;

export function isStorableString(value: string): boolean {
  return !UNSTORABLE.test(value);
}

function assertStorableString(value: string, path: string): void {
  if (!isStorableString(value)) throw new ProtocolError('invalid_message', `${path || '/'}: strings may not hold U+0000 or unpaired surrogates`);
}

export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Deep copy of plain JSON (structuredClone is Node 17+, but JSON round-trip keeps key order and drops nothing JSON can hold). */
export function cloneJson<T extends JsonValue>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Structural equality of two JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
