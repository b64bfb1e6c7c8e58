import type { JsonObject, QueryableDocument } from '@json-sync/core';

/**
 * The query language's conformance cases: one set of documents and queries that every backend —
 * the reference evaluator (core), the engine's SQLite and the server's PostgreSQL — must answer
 * alike, and whose filters agree with MongoDB's (checked against mingo, a maintained JavaScript
 * implementation of MongoDB's query language). Documents are named by their title.
 */

const AT = (n: number) => `2026-12-0${1 + (n % 5)}T10:00:0${n % 10}.000Z`;

function doc(n: number, content: JsonObject, revision: number | null = n): QueryableDocument {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return { id, revision, title: String(content.title), createdAt: AT(n), updatedAt: AT(n + 3), content };
}

export const QUERY_DOCUMENTS: readonly QueryableDocument[] = [
  doc(1, { title: 'a', status: 'open', priority: 'high', n: 1, tags: ['audio', 'synth'], meta: { bpm: 120, key: 'C' } }),
  doc(2, { title: 'b', status: 'done', priority: 'low', n: 2.5, tags: ['audio'], meta: { bpm: 90 } }),
  doc(3, { title: 'c', status: 'open', priority: 'medium', n: '1', tags: [], meta: {} }, null),
  doc(4, { title: 'd', status: null, n: true, tags: 'audio' }),
  doc(5, { title: 'e', n: null, items: [{ name: 'milk', qty: 2 }, { name: 'eggs', qty: 12 }] }),
  doc(6, { title: 'f', n: [1, 5], items: [{ name: 'milk' }, { qty: 3 }] }),
  doc(7, { title: 'g', n: [[1]], items: [] }),
  doc(8, { title: 'h', n: { a: 1 }, items: 'none' }),
  doc(9, { title: 'i', n: -3, name: 'Émile', tags: ['Audio', 'synth pad'] }),
  doc(10, { title: 'j', n: 0, name: 'emile', nested: { deep: { x: [1, 2, 3] } } }),
  doc(11, { title: 'k', n: 1e10, name: '日本語', tags: [null, 'x'] }),
  doc(12, { title: 'l', name: '😀 smile', n: false, status: 'Open' }),
  doc(13, { title: 'm' }, null),
  doc(14, { title: 'n', status: 'open', priority: 'high', n: 7, meta: { bpm: 140 }, items: [{ name: 'milk', qty: 1 }] }),
  doc(15, { title: 'o', name: 'Zürich', n: [], nested: { deep: { x: 2 } }, tags: [['audio']] }),
  doc(16, { title: 'p', name: 'ﬁne', n: 12, status: 'open', priority: 'low' }),
];

export interface QueryCase {
  readonly name: string;
  readonly query: JsonObject;
  /**
   * The titles expected, in order, where they are given by hand: sorted queries (mingo's sort
   * differs from MongoDB's for arrays), and filters where MongoDB's documented behaviour and
   * mingo's differ (`deviation` says how). Otherwise the expectation is mingo's answer to `where`.
   */
  readonly expect?: readonly string[];
  readonly deviation?: string;
}

export const QUERY_CASES: readonly QueryCase[] = [
  // ---- equality, and arrays matching by element
  { name: 'implicit $eq on a string', query: { where: { status: 'open' } } },
  { name: '$eq is case-sensitive and type-exact', query: { where: { n: 1 } } },
  { name: 'a string is not a number', query: { where: { n: '1' } } },
  { name: 'an array field matches by element', query: { where: { tags: 'audio' } } },
  { name: 'a whole array equals exactly', query: { where: { n: [1, 5] } } },
  { name: 'an array of arrays matches its element', query: { where: { n: [1] } } },
  { name: 'null matches null and missing', query: { where: { status: null } } },
  { name: 'null matches an array holding null', query: { where: { tags: null } } },
  { name: 'booleans are not numbers', query: { where: { n: true } } },
  { name: '$eq explicit', query: { where: { priority: { $eq: 'high' } } } },
  { name: '$ne excludes arrays holding the value, keeps missing', query: { where: { tags: { $ne: 'audio' } } } },
  { name: '$ne null: present and not null', query: { where: { status: { $ne: null } } } },
  { name: 'dotted path into an object', query: { where: { 'meta.bpm': 120 } } },
  { name: 'dotted path through an array of objects', query: { where: { 'items.name': 'milk' } } },
  { name: 'dotted path by array index', query: { where: { 'items.1.name': 'eggs' } } },
  { name: 'deep path ending in an array', query: { where: { 'nested.deep.x': 2 } } },
  { name: 'missing nested field is null', query: { where: { 'meta.key': null } } },
  { name: 'Unicode strings compare exactly', query: { where: { name: 'Émile' } } },
  // ---- comparisons, bracketed by type
  { name: '$gt numbers only', query: { where: { n: { $gt: 1 } } } },
  { name: '$gte 1 includes arrays with an element ≥ 1', query: { where: { n: { $gte: 1 } } } },
  { name: '$lt 0', query: { where: { n: { $lt: 0 } } } },
  { name: '$lte on strings compares bytes', query: { where: { name: { $lte: 'emile' } } } },
  { name: '$gt on strings: UTF-8 order puts non-ASCII after ASCII', query: { where: { name: { $gt: 'z' } } } },
  { name: 'range with both ends', query: { where: { n: { $gt: 0, $lt: 10 } } } },
  { name: 'an array can satisfy each end with a different element', query: { where: { n: { $gt: 2, $lt: 3 } } } },
  {
    name: '$gte null is $eq null',
    query: { where: { status: { $gte: null } } },
    expect: ['d', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'm', 'o'],
    deviation: 'MongoDB reads $gte/$lte null as $eq null, a missing field included; mingo matches an explicit null only',
  },
  { name: '$gt null matches nothing', query: { where: { status: { $gt: null } } } },
  { name: '$gt false: true only', query: { where: { n: { $gt: false } } } },
  { name: 'metadata: $revision', query: { where: { $revision: { $gte: 10 } } } },
  { name: 'metadata: never-synced documents have a null $revision', query: { where: { $revision: null } } },
  { name: 'metadata: $title', query: { where: { $title: { $in: ['a', 'z'] } } } },
  { name: 'metadata: $createdAt range', query: { where: { $createdAt: { $gte: '2026-12-04T00:00:00.000Z' } } } },
  // ---- lists
  { name: '$in', query: { where: { priority: { $in: ['high', 'medium'] } } } },
  { name: '$in with null includes missing', query: { where: { priority: { $in: [null, 'low'] } } } },
  { name: '$in matches array elements', query: { where: { tags: { $in: ['synth', 'x'] } } } },
  { name: '$nin keeps missing', query: { where: { priority: { $nin: ['high', 'low'] } } } },
  { name: '$all: every value present', query: { where: { tags: { $all: ['audio', 'synth'] } } } },
  {
    name: '$all with one value on a scalar field',
    query: { where: { tags: { $all: ['audio'] } } },
    expect: ['a', 'b', 'd'],
    deviation: 'MongoDB documents $all as an $and of equalities, which a scalar field can satisfy; mingo requires an array',
  },
  { name: '$all empty matches nothing', query: { where: { tags: { $all: [] } } } },
  // ---- existence and types
  { name: '$exists true', query: { where: { priority: { $exists: true } } } },
  { name: '$exists false', query: { where: { priority: { $exists: false } } } },
  { name: '$exists through arrays of objects', query: { where: { 'items.qty': { $exists: true } } } },
  {
    name: '$type string also matches arrays holding strings',
    query: { where: { tags: { $type: 'string' } } },
    expect: ['a', 'b', 'd', 'i', 'k'],
    deviation: 'MongoDB matches an array by its elements for $type; mingo tests only the field itself',
  },
  {
    name: '$type number',
    query: { where: { n: { $type: 'number' } } },
    expect: ['a', 'b', 'f', 'i', 'j', 'k', 'n', 'p'],
    deviation: 'as above: f holds numbers in an array',
  },
  { name: '$type int: integral numbers', query: { where: { n: { $type: 'int' } } }, expect: ['a', 'f', 'i', 'j', 'k', 'n', 'p'], deviation: 'as above; JSON has one number type, int means integral' },
  { name: '$type array', query: { where: { n: { $type: 'array' } } } },
  { name: '$type object', query: { where: { n: { $type: 'object' } } } },
  { name: '$type bool', query: { where: { n: { $type: 'bool' } } } },
  { name: '$type null does not match missing', query: { where: { n: { $type: 'null' } } } },
  { name: '$type with a list', query: { where: { n: { $type: ['string', 'bool'] } } } },
  { name: '$size', query: { where: { tags: { $size: 2 } } } },
  { name: '$size 0', query: { where: { n: { $size: 0 } } } },
  // ---- logic
  { name: '$and', query: { where: { $and: [{ status: 'open' }, { priority: 'high' }] } } },
  { name: '$or', query: { where: { $or: [{ priority: 'low' }, { n: { $lt: 0 } }] } } },
  { name: '$nor', query: { where: { $nor: [{ status: 'open' }, { n: { $type: 'number' } }] } }, expect: ['d', 'e', 'g', 'h', 'l', 'm', 'o'], deviation: '$type on arrays, as above' },
  { name: '$not keeps missing fields', query: { where: { n: { $not: { $gt: 1 } } } } },
  { name: '$not with $regex', query: { where: { name: { $not: { $regex: '^e' } } } } },
  { name: 'several fields: an implicit $and', query: { where: { status: 'open', 'meta.bpm': { $gte: 100 } } } },
  // ---- arrays of objects
  { name: '$elemMatch on objects: one element holds every condition', query: { where: { items: { $elemMatch: { name: 'milk', qty: { $gte: 2 } } } } } },
  { name: 'without $elemMatch, different elements may hold each condition', query: { where: { 'items.name': 'milk', 'items.qty': { $gte: 2 } } } },
  { name: '$elemMatch on scalars', query: { where: { n: { $elemMatch: { $gt: 3 } } } } },
  // ---- regular expressions
  { name: '$regex', query: { where: { name: { $regex: 'mile' } } } },
  { name: '$regex anchored', query: { where: { name: { $regex: '^e' } } } },
  { name: '$regex case-insensitive (ASCII)', query: { where: { status: { $regex: '^OPEN$', $options: 'i' } } } },
  { name: '$regex over array elements', query: { where: { tags: { $regex: 'pad$' } } } },
  { name: '$regex with a class and a repeat', query: { where: { name: { $regex: '^[a-z]{4,}$' } } } },
  // ---- sort (expectations by hand: MongoDB's rules, which mingo does not follow for arrays)
  { name: 'sort by a string, ties by id', query: { where: { status: 'open' }, sort: [{ priority: 'asc' }] }, expect: ['a', 'n', 'p', 'c'] },
  { name: 'sort descending', query: { where: { status: 'open' }, sort: [{ priority: 'desc' }, { $title: 'desc' }] }, expect: ['c', 'p', 'n', 'a'] },
  {
    name: "sort across types in MongoDB's order; arrays by their smallest element ascending",
    query: { sort: [{ n: 'asc' }] },
    expect: ['o', 'e', 'm', 'i', 'j', 'a', 'f', 'b', 'n', 'p', 'k', 'c', 'h', 'g', 'l', 'd'],
  },
  {
    name: 'descending, arrays by their largest element; ties by id, descending too',
    query: { sort: [{ n: 'desc' }] },
    expect: ['d', 'l', 'g', 'h', 'c', 'k', 'p', 'n', 'f', 'b', 'a', 'j', 'i', 'm', 'e', 'o'],
  },
  { name: 'sort by a metadata field', query: { where: { $revision: { $lte: 3 } }, sort: [{ $revision: 'desc' }] }, expect: ['b', 'a'] },
  { name: 'sort by a nested path with missing values first', query: { sort: [{ 'meta.bpm': 'asc' }], limit: 5 }, expect: ['c', 'd', 'e', 'f', 'g'] },
  // ---- limit, fields, count
  { name: 'limit', query: { where: { status: 'open' }, sort: [{ $title: 'asc' }], limit: 2 }, expect: ['a', 'c'] },
  { name: 'fields keep the documents and their order', query: { where: { tags: 'audio' }, fields: ['meta.bpm'], sort: [{ $title: 'asc' }] }, expect: ['a', 'b', 'd'] },
  { name: 'no where: every document, in id order', query: {}, expect: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p'] },
];
