import type { JsonObject, JsonValue, QueryableDocument } from '@json-sync/core';
import { mulberry32 } from './random.js';

/**
 * Random documents and queries for the differential tests of the query language: every backend's
 * answer to every query must equal the reference evaluator's. Seeded, so a failure replays.
 */

const WORDS = ['open', 'done', 'Open', 'high', 'low', 'audio', 'synth', 'pad', 'émile', 'Zürich', '日本', '😀', '', 'a b', 'Z', 'zz'];
const FIELDS = ['s', 'n', 'b', 'tags', 'meta.x', 'meta.y', 'items.k', 'items.v', 'deep.a.b', 'missing'];

class Gen {
  constructor(private readonly rnd: () => number) {}

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  chance(p: number): boolean {
    return this.rnd() < p;
  }

  scalar(): JsonValue {
    switch (this.int(6)) {
      case 0:
        return this.pick(WORDS);
      case 1:
        return this.int(7) - 3;
      case 2:
        return (this.int(41) - 20) / 4;
      case 3:
        return this.chance(0.5);
      case 4:
        return null;
      default:
        return this.pick(WORDS);
    }
  }

  value(depth = 0): JsonValue {
    const r = this.rnd();
    if (r < 0.6 || depth > 1) return this.scalar();
    if (r < 0.85) return Array.from({ length: this.int(4) }, () => (this.chance(0.15) ? [this.scalar()] : this.scalar()));
    return { x: this.scalar() };
  }

  document(i: number): QueryableDocument {
    const content: JsonObject = { title: `d${i}` };
    if (this.chance(0.8)) content.s = this.value();
    if (this.chance(0.8)) content.n = this.value();
    if (this.chance(0.5)) content.b = this.scalar();
    if (this.chance(0.6)) content.tags = Array.from({ length: this.int(4) }, () => this.pick(WORDS));
    if (this.chance(0.5)) content.meta = this.chance(0.8) ? { x: this.value(1), y: this.scalar() } : this.value(1);
    if (this.chance(0.5)) content.items = Array.from({ length: this.int(3) }, () => (this.chance(0.85) ? { k: this.scalar(), v: this.value(1) } : this.scalar()));
    if (this.chance(0.3)) content.deep = { a: this.chance(0.5) ? { b: this.value(1) } : [{ b: this.scalar() }, { c: 1 }] };
    const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const at = `2026-12-${String(1 + this.int(28)).padStart(2, '0')}T00:00:00.000Z`;
    return { id, revision: this.chance(0.2) ? null : 1 + this.int(9), title: `d${i}`, createdAt: at, updatedAt: at, content };
  }

  literal(): JsonValue {
    return this.chance(0.1) ? [this.scalar(), this.scalar()].filter((v) => this.chance(0.7) || v !== null) : this.scalar();
  }

  operators(): JsonObject {
    const v = this.scalar();
    switch (this.int(16)) {
      case 0:
        return { $eq: this.literal() };
      case 1:
        return { $ne: this.literal() };
      case 2:
        return { $gt: v };
      case 3:
        return { $gte: v };
      case 4:
        return { $lt: v };
      case 5:
        return { $lte: v, $gt: this.scalar() };
      case 6:
        return { $in: Array.from({ length: 1 + this.int(3) }, () => this.literal()) };
      case 7:
        return { $nin: Array.from({ length: 1 + this.int(3) }, () => this.scalar()) };
      case 8:
        return { $exists: this.chance(0.5) };
      case 9:
        return { $type: this.pick(['string', 'number', 'int', 'bool', 'null', 'array', 'object']) };
      case 10:
        return { $size: this.int(3) };
      case 11:
        return { $all: Array.from({ length: this.int(3) }, () => this.pick(WORDS)) };
      case 12:
        return { $regex: this.pick(['^o', 'pen$', '[a-z]{2}', 'ü', '^$', 'a|d', '.']), ...(this.chance(0.3) ? { $options: 'i' } : {}) };
      case 13:
        return { $not: { $gt: v } };
      case 14:
        return { $elemMatch: this.chance(0.5) ? { $gt: this.int(5) - 2 } : { k: this.scalar() } };
      default:
        return { $eq: v };
    }
  }

  filter(depth = 0): JsonObject {
    const r = this.rnd();
    if (depth < 2 && r < 0.15) return { [this.pick(['$and', '$or', '$nor'])]: Array.from({ length: 1 + this.int(3) }, () => this.filter(depth + 1)) };
    const field = this.chance(0.1) ? this.pick(['$revision', '$title', '$createdAt']) : this.pick(FIELDS);
    return { [field]: this.chance(0.3) ? this.literal() : this.operators() };
  }

  query(): JsonObject {
    const q: JsonObject = {};
    if (this.chance(0.9)) q.where = this.filter();
    if (this.chance(0.6)) q.sort = Array.from({ length: 1 + this.int(2) }, () => ({ [this.pick([...FIELDS, '$revision', '$title'])]: this.pick(['asc', 'desc']) }));
    if (this.chance(0.4)) q.limit = 1 + this.int(20);
    return q;
  }
}

/** `count` documents and `queries` queries from `seed`. */
export function randomQueryWorkload(seed: number, count: number, queries: number): { documents: QueryableDocument[]; queries: JsonObject[] } {
  const g = new Gen(mulberry32(seed));
  return { documents: Array.from({ length: count }, (_, i) => g.document(i + 1)), queries: Array.from({ length: queries }, () => g.query()) };
}
