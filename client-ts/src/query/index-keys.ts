import { isPlainObject, keyOf, valuesAt, type JsonObject, type JsonValue, type KeyValue } from '@json-sync/core';

/**
 * Index keys: a field's value as a BLOB whose byte order (SQLite compares BLOBs with memcmp) is
 * the query language's order — a rank byte (docs/queries.md, "Order"), then for numbers 8 bytes
 * of an order-preserving double, for strings their UTF-8 bytes, for booleans 0 or 1. One column
 * per indexed field then answers equality, ranges within a type, and sorting, with one B-tree.
 */
export function keyBlob(k: KeyValue): Buffer {
  if (typeof k.value === 'number' && k.rank === 2) {
    const b = Buffer.alloc(9);
    b[0] = k.rank;
    b.writeDoubleBE(k.value === 0 ? 0 : k.value, 1);
    // Positive numbers: flip the sign bit; negative ones: flip every bit, so bytes sort as numbers.
    if (b[1]! & 0x80) for (let i = 1; i < 9; i++) b[i] = ~b[i]! & 0xff;
    else b[1] = b[1]! | 0x80;
    return b;
  }
  if (typeof k.value === 'string') return Buffer.concat([Buffer.from([k.rank]), Buffer.from(k.value, 'utf8')]);
  if (typeof k.value === 'number') return Buffer.from([k.rank, k.value]);
  return Buffer.from([k.rank]);
}

/** The smallest key of a rank and the first key past it: the bounds a range query keeps within its type. */
export function rankBounds(rank: number): [Buffer, Buffer] {
  return [Buffer.from([rank]), Buffer.from([rank + 1])];
}

/**
 * A document's rows in an index over `fields`: the keys of every value each field holds (an
 * array's elements, an empty array's own key, a missing field as null), one row per combination —
 * so a query for any one element finds the document, and a document's smallest (largest) row is
 * its ascending (descending) sort key.
 */
export function indexRows(content: JsonObject, fields: readonly (readonly string[])[]): Buffer[][] {
  let rows: Buffer[][] = [[]];
  for (const path of fields) {
    const keys = new Map<string, Buffer>();
    for (const v of valuesAt(content, path)) {
      for (const k of candidates(v)) {
        const blob = keyBlob(k);
        keys.set(blob.toString('hex'), blob);
      }
    }
    rows = rows.flatMap((row) => [...keys.values()].map((k) => [...row, k]));
  }
  return rows;
}

function candidates(v: JsonValue | undefined): KeyValue[] {
  if (Array.isArray(v) && v.length > 0) return v.map((e) => keyOf(e));
  return [keyOf(v)];
}

/** The strings a text index holds for a document: every string its fields hold (array elements included). */
export function indexedTexts(content: JsonObject, fields: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  const collect = (v: JsonValue | undefined): void => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (isPlainObject(v)) Object.values(v).forEach(collect);
  };
  for (const path of fields) for (const v of valuesAt(content, path)) collect(v);
  return out;
}
