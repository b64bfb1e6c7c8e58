import t from 'tap';
import { parseQuery, QUERY_LIMITS } from './parse.js';
import { QueryError } from './query-error.js';
import { parseRegex, regexTest } from './regex.js';
import { encodeCursor } from './cursor.js';

/** The error a query gets: its message names the offending part. */
function refusal(raw: unknown): string {
  try {
    parseQuery(raw);
  } catch (err) {
    if (err instanceof QueryError) return err.message;
    throw err;
  }
  return 'accepted';
}

t.test('errors name the offending part of the query', async (t) => {
  const cases: [unknown, RegExp][] = [
    [null, /^query: must be a JSON object/],
    [[], /^query: must be a JSON object/],
    [{ wher: {} }, /^wher: unknown member/],
    [{ where: { priority: { $inn: ['a'] } } }, /^where\.priority\.\$inn: unknown operator/],
    [{ where: { $foo: 1 } }, /^where\.\$foo: unknown operator or metadata field/],
    [{ where: { a: { $gt: {} } } }, /^where\.a\.\$gt: compares with a string, number, boolean or null/],
    [{ where: { a: { $in: 'x' } } }, /^where\.a\.\$in: must be an array/],
    [{ where: { a: { $in: [{ $gt: 1 }] } } }, /^where\.a\.\$in\[0\]: operators and objects are not supported/],
    [{ where: { a: { x: 1 } } }, /^where\.a: equality with an object is not supported/],
    [{ where: { a: { $gt: 1, b: 2 } } }, /^where\.a\.b: operators and fields cannot be mixed/],
    [{ where: { a: [{ x: 1 }] } }, /^where\.a\[0\]: arrays holding objects cannot be compared/],
    [{ where: { $and: [] } }, /^where\.\$and: must be a non-empty array/],
    [{ where: { $or: [{ a: 1 }, 'x'] } }, /^where\.\$or\[1\]: must be an object/],
    [{ where: { 'a..b': 1 } }, /^where\.a\.\.b: a field path has no empty component/],
    [{ where: { 'a.$b': 1 } }, /component cannot start with \$/],
    [{ where: { 'a"b': 1 } }, /cannot hold " or \\/],
    [{ where: { a: { $size: -1 } } }, /^where\.a\.\$size: must be a whole number/],
    [{ where: { a: { $type: 'decimal128' } } }, /^where\.a\.\$type: unknown type "decimal128"/],
    [{ where: { a: { $regex: '(a)\\1' } } }, /^where\.a\.\$regex: backreferences are not supported/],
    [{ where: { a: { $regex: '(?=a)' } } }, /lookaround/],
    [{ where: { a: { $regex: 'a', $options: 'g' } } }, /option "g" is not supported/],
    [{ where: { a: { $options: 'i' } } }, /^where\.a\.\$options: goes with \$regex/],
    [{ where: { a: 2 ** 60 } }, /numbers beyond ±2\^53/],
    [{ where: { a: 'x\u0000' } }, /U\+0000/],
    [{ where: { a: { $elemMatch: { $revision: 1 } } } }, /unknown operator/],
    [{ where: { a: { $elemMatch: { b: { $title: 1 } } } } }, /unknown operator/],
    [{ sort: [{ a: 'up' }] }, /^sort\[0\]\.a: must be "asc", "desc", 1 or -1/],
    [{ sort: [{ a: 1, b: 1 }] }, /^sort\[0\]: each key is an object with one field/],
    [{ limit: 0 }, /^limit: must be a whole number/],
    [{ limit: QUERY_LIMITS.maxLimit + 1 }, /^limit:/],
    [{ fields: ['a', 'a.b'] }, /^fields\[1\]: overlaps fields\[0\]/],
    [{ fields: ['$title'] }, /^fields\[0\]:/],
    [{ count: 'yes' }, /^count: must be true or false/],
    [{ search: '!!!' }, /^search: holds no word/],
    [{ search: { text: 'x', idx: 'a' } }, /^search\.idx: unknown member/],
    [{ after: 'not a cursor' }, /^after: is not a page's `next` cursor/],
  ];
  for (const [raw, expected] of cases) t.match(refusal(raw), expected, JSON.stringify(raw));
});

t.test('a cursor is for the query it came from', async (t) => {
  const q = parseQuery({ where: { a: 1 }, sort: [{ b: 'asc' }] });
  const next = encodeCursor(q.signature, { keys: [{ rank: 2, value: 3 }], id: 'x' });
  t.same(parseQuery({ where: { a: 1 }, sort: [{ b: 'asc' }], limit: 5, after: next }).after, { keys: [{ rank: 2, value: 3 }], id: 'x' }, 'the same where and sort: accepted');
  t.match(refusal({ where: { a: 2 }, sort: [{ b: 'asc' }], after: next }), /^after: belongs to another query/);
  t.match(refusal({ where: { a: 1 }, after: next }), /^after: belongs to another query/);
});

t.test('hostile sizes are refused before any work', async (t) => {
  let deep: Record<string, unknown> = { a: 1 };
  for (let i = 0; i < 40; i++) deep = { $and: [deep] };
  t.match(refusal({ where: deep }), /nested deeper than 16 levels/);
  t.match(refusal({ where: { a: { $in: Array.from({ length: QUERY_LIMITS.maxValues + 1 }, (_, i) => i) } } }), /holds at most 1000 values/);
  t.match(refusal({ where: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, i])) }), /more than 256 conditions/);
  t.match(refusal({ where: { a: { $regex: 'a'.repeat(600) } } }), /pattern longer than 512/);
  t.match(refusal({ where: { a: { $regex: '(a{100}){100}' } } }), /pattern too large/);
  t.match(refusal({ where: { ['a.'.repeat(20) + 'b']: 1 } }), /at most 16 components/);
});

t.test('$regex: a linear-time subset', async (t) => {
  const test = (pattern: string, flags: string, text: string) => regexTest(parseRegex(pattern, flags), text);
  t.ok(test('mile', '', 'Émile'), 'unanchored search');
  t.notOk(test('^mile', '', 'Émile'));
  t.ok(test('^É', '', 'Émile'), 'code points, not bytes');
  t.ok(test('^[a-z]{4,}$', '', 'emile'));
  t.notOk(test('^[a-z]{4,}$', '', 'emi'));
  t.ok(test('OPEN', 'i', 'open'), 'i folds ASCII letters');
  t.notOk(test('É', 'i', 'é'), 'and only those (as PostgreSQL\'s "C" collation does)');
  t.notOk(test('a.b', '', 'a\nb'), '. stops at a newline');
  t.ok(test('a.b', 's', 'a\nb'), 'unless s');
  t.notOk(test('^b', '', 'a\nb'));
  t.ok(test('^b$', 'm', 'a\nb\nc'), 'm: ^ and $ at lines');
  t.ok(test('\\d+\\.\\d', '', 'v1.2'));
  t.ok(test('(?:ab|cd)+e', '', 'xxcdabe'));
  t.ok(test('colou?r', '', 'color'));
  t.ok(test('[^a-c]', '', 'abcd'));
  t.notOk(test('[^a-c]', '', 'abc'));
  t.ok(test('😀', '', 'x😀'), 'astral characters');
  // What makes backtracking engines take exponential time is linear here: this returns.
  t.notOk(test('(a+)+$', '', `${'a'.repeat(20000)}!`), '(a+)+$ against 20,000 a and a !');
  t.notOk(test('(a|a)*b', '', 'a'.repeat(20000)));
});
