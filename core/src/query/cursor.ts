import type { KeyValue, PageCursor } from './ast.js';
import { QueryError } from './query-error.js';

/**
 * A page cursor (`after`, from the previous page's `next`): opaque to applications, it holds the
 * last row's sort key values and id, and the signature of the query it was made for — as the hex
 * of a JSON array `[signature, [rank, value, …], id]`, a form SQLite can build too (the engine's
 * statements make `next` themselves). Nothing in it is secret, and nothing in it is trusted:
 * every value is checked on decode.
 */
export function encodeCursor(signature: string, cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([signature, cursor.keys.flatMap((k) => [k.rank, k.value]), cursor.id])).toString('hex').toUpperCase();
}

export function decodeCursor(text: string, signature: string, keys: number): PageCursor {
  const refuse = (why: string) => new QueryError('after', why);
  const malformed = () => refuse("is not a page's `next` cursor");
  if (text.length > 16384 || !/^([0-9A-F]{2})+$/i.test(text)) throw malformed();
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text, 'hex').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(raw) || raw.length !== 3 || typeof raw[0] !== 'string' || !Array.isArray(raw[1]) || typeof raw[2] !== 'string') throw malformed();
  if (raw[0] !== signature) throw refuse('belongs to another query (its where, sort or search differ)');
  const flat = raw[1] as unknown[];
  if (flat.length !== keys * 2) throw malformed();
  const parsed: KeyValue[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const rank = flat[i];
    const value = flat[i + 1];
    if (!Number.isInteger(rank) || (rank as number) < 0 || (rank as number) > 8) throw malformed();
    if (value !== null && typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) throw malformed();
    parsed.push({ rank: rank as number, value: value as KeyValue['value'] });
  }
  return { keys: parsed, id: raw[2] };
}
