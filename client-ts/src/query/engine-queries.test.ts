import t from 'tap';
import type { JsonObject } from '@json-sync/core';
import { SyncError } from '../errors.js';
import { localEngines } from '../test-support/harness.js';

/** Queries through the engine's API, offline: answered from the local replica, with its own writes at once. */

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof SyncError ? `${err.code}: ${err.message}` : `not a SyncError: ${String(err)}`;
  }
  return 'no error';
}

const TASKS: JsonObject[] = [
  { title: 'Mix the synth pad', status: 'open', priority: 'high', tags: ['audio', 'synth'], bpm: 120 },
  { title: 'Bounce stems', status: 'done', priority: 'low', tags: ['audio'], bpm: 90 },
  { title: 'Write release notes', status: 'open', priority: 'medium', tags: ['docs'] },
  { title: 'Fix Émile’s preset', status: 'open', priority: 'high', tags: ['bug', 'synth'], bpm: 140 },
];

t.test("a query answers from the local replica: the engine's own writes at once, deleted documents never", async (t) => {
  const e = localEngines(t).engine('q');
  const ids = e.createDocuments(TASKS);
  const open = e.query({ where: { status: 'open' }, sort: [{ priority: 'asc' }, { bpm: 'desc' }] });
  t.ok('documents' in open);
  if (!('documents' in open)) return;
  t.same(
    open.documents.map((d) => d.title),
    ['Fix Émile’s preset', 'Mix the synth pad', 'Write release notes'],
  );
  t.equal(open.next, null);
  t.match(open.documents[0], { id: ids[3], syncRevision: null, pending: 1, deletedAt: null });
  e.deleteDocument(ids[0]!);
  e.mergeDocument(ids[2]!, { status: 'done' });
  t.same(e.query({ where: { status: 'open' }, count: true }), { count: 1 }, 'a deleted and an edited document leave at once');
  t.same(e.query('{"where": {"tags": "audio"}, "fields": ["bpm"]}'), {
    documents: [{ ...e.getDocument(ids[1]!)!, content: { bpm: 90 } }],
    next: null,
  }, 'query text works too; fields projects the content');
});

t.test('pages: limit and the after cursor walk the whole result once, in order', async (t) => {
  const e = localEngines(t).engine('pages');
  e.createDocuments(Array.from({ length: 25 }, (_, i) => ({ title: `t${String(i).padStart(2, '0')}`, n: i % 7 })));
  const q: JsonObject = { where: { n: { $gte: 2 } }, sort: [{ n: 'desc' }], limit: 4 };
  const seen: string[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const page: ReturnType<typeof e.query> = e.query(after ? { ...q, after } : q);
    if (!('documents' in page)) throw new Error('count');
    seen.push(...page.documents.map((d) => d.title!));
    after = page.next;
    pages++;
  } while (after);
  const all = e.query({ where: q.where!, sort: q.sort! });
  if (!('documents' in all)) throw new Error('count');
  t.same(seen, all.documents.map((d) => d.title), 'the pages are the whole result, in order, once');
  t.equal(pages, Math.ceil(all.documents.length / 4));
  t.match(codeOf(() => e.query({ where: { n: 1 }, after: after ?? 'x' })), /^invalid_input: after:/);
});

t.test('bad queries: a clear error naming the part, nothing run', async (t) => {
  const e = localEngines(t).engine('bad');
  t.match(codeOf(() => e.query({ where: { priority: { $inn: ['high'] } } })), /^invalid_input: where\.priority\.\$inn: unknown operator/);
  t.match(codeOf(() => e.query('{"where":')), /^invalid_input: query is not valid JSON/);
  t.match(codeOf(() => e.query([] as never)), /^invalid_input: a query is a JSON object/);
  t.match(codeOf(() => e.query({ search: 'synth' })), /^invalid_input: search: no text index/);
  t.match(codeOf(() => e.query({ where: { a: { $regex: '(a+)+\\1' } } })), /^invalid_input: where\.a\.\$regex: backreferences/);
});

t.test('indexes: declared, listed, used when they fit, persisted, dropped; a query without one still works', async (t) => {
  const local = localEngines(t);
  const e = local.engine('idx');
  e.createDocuments(TASKS);
  e.createIndex({ name: 'by_status', fields: ['status', 'priority'] });
  e.createTextIndex({ name: 'text', fields: ['title', 'tags'] });
  t.same(e.listIndexes(), [
    { name: 'by_status', kind: 'value', fields: ['status', 'priority'], unique: false },
    { name: 'text', kind: 'text', fields: ['title', 'tags'], unique: false },
  ]);
  const plan = e.explain({ where: { status: 'open' } });
  t.equal(plan.index, 'by_status');
  t.ok(plan.plan.some((step) => /idx_\d+/.test(step)), `SQLite reads the index table: ${plan.plan.join(' | ')}`);
  t.equal(e.explain({ where: { bpm: { $gt: 100 } } }).index, null, 'no index fits: a scan');
  t.same(
    (e.query({ where: { bpm: { $gt: 100 } }, sort: [{ bpm: 'asc' }] }) as { documents: { title: string }[] }).documents.map((d) => d.title),
    ['Mix the synth pad', 'Fix Émile’s preset'],
  );
  t.match(codeOf(() => e.createIndex({ name: 'by_status', fields: ['x'] })), /^conflict:/);
  t.equal(codeOf(() => e.createIndex({ name: 'by_status', fields: ['status', 'priority'] })), 'no error', 'declaring the same index again does nothing');
  t.match(codeOf(() => e.createTextIndex({ name: 'by_status', fields: ['status', 'priority'] })), /^conflict:/, 'the same name as a text index is another index');
  t.equal(e.listIndexes().length, 2);
  t.match(codeOf(() => e.createIndex({ name: 'bad name!', fields: ['x'] })), /^invalid_input: name:/);
  t.match(codeOf(() => e.createIndex({ name: 'x', fields: ['a..b'] })), /^invalid_input: fields\[0\]:/);
  t.match(codeOf(() => e.createIndex({ name: 'x', fields: [] })), /^invalid_input: fields:/);
  t.match(codeOf(() => e.dropIndex('nope')), /^not_found:/);
  await e.close();

  const again = local.engine('idx');
  t.same(again.listIndexes().map((i) => i.name), ['by_status', 'text'], 'kept in the database file');
  again.dropIndex('by_status');
  t.equal(again.explain({ where: { status: 'open' } }).index, null);
  t.equal((again.query({ where: { status: 'open' }, count: true }) as { count: number }).count, 3);
});

t.test('a unique index refuses a local change that would repeat its key, writing nothing', async (t) => {
  const e = localEngines(t).engine('unique');
  const [a] = e.createDocuments([{ title: 'a', sku: 'X-1' }, { title: 'b', sku: 'X-2' }]);
  e.createIndex({ name: 'sku', fields: ['sku'], unique: true });
  t.match(codeOf(() => e.createDocument({ title: 'c', sku: 'X-1' })), /^conflict: unique index "sku"/);
  t.match(codeOf(() => e.mergeDocument(a!, { sku: 'X-2' })), /^conflict: unique index "sku"/);
  t.equal(e.countDocuments(), 2, 'nothing written');
  t.equal(e.pendingCount(), 2);
  e.mergeDocument(a!, { sku: 'X-3' });
  e.createDocument({ title: 'c', sku: 'X-1' });
  t.equal(e.countDocuments(), 3, 'a freed key can be taken');
  const dup = localEngines(t).engine('dup');
  dup.createDocuments([{ sku: 1 }, { sku: 1 }]);
  t.match(codeOf(() => dup.createIndex({ name: 'sku', fields: ['sku'], unique: true })), /^invalid_input: unique index "sku"/, 'an index its documents already break is not created');
  t.same(dup.listIndexes(), []);
});

t.test('search: ranked full text over a text index, diacritics and case folded, prefixes, with where', async (t) => {
  const e = localEngines(t).engine('search');
  e.createDocuments(TASKS);
  e.createTextIndex({ name: 'text', fields: ['title', 'tags'] });
  const titles = (q: JsonObject) => (e.query(q) as { documents: { title: string }[] }).documents.map((d) => d.title);
  t.same(titles({ search: 'emile' }), ['Fix Émile’s preset'], 'é folds to e');
  t.same(titles({ search: 'SYNTH*', sort: [{ $title: 'asc' }] }), ['Fix Émile’s preset', 'Mix the synth pad']);
  t.same(titles({ search: 'synth', where: { status: 'open', priority: 'high' }, sort: [{ bpm: 'asc' }] }), ['Mix the synth pad', 'Fix Émile’s preset']);
  t.same(titles({ search: 'synth pad' }), ['Mix the synth pad'], 'every word must match');
  t.same(titles({ search: 'audio' }).length, 2);
  e.createTextIndex({ name: 'tags', fields: ['tags'] });
  t.match(codeOf(() => e.query({ search: 'audio' })), /^invalid_input: search: 2 text indexes/);
  t.same(titles({ search: { text: 'bug', index: 'tags' } }), ['Fix Émile’s preset']);
  // Pages of a search in relevance order: the cursor carries the score.
  const all = titles({ search: { text: 'audio', index: 'text' } });
  const first = e.query({ search: { text: 'audio', index: 'text' }, limit: 1 }) as { documents: { title: string }[]; next: string | null };
  t.ok(first.next, 'a first page of one has a next');
  const second = e.query({ search: { text: 'audio', index: 'text' }, limit: 1, after: first.next }) as { documents: { title: string }[]; next: string | null };
  t.same([...first.documents, ...second.documents].map((d) => d.title), all, 'two pages of one hold the answer of the search, in its order');
  t.equal(second.next, null);
});

t.test('hostile queries get clear errors or finish: depth bombs, long lists, pathological patterns over long text', async (t) => {
  const e = localEngines(t).engine('hostile');
  e.createDocuments([{ text: 'a'.repeat(200_000), n: 1 }, { text: `${'x'.repeat(100_000)}y`, tags: Array.from({ length: 500 }, (_, i) => `t${i}`) }]);
  let bomb: JsonObject = { n: 1 };
  for (let i = 0; i < 30; i++) bomb = { $or: [bomb, { n: i }] };
  t.match(codeOf(() => e.query({ where: bomb })), /^invalid_input: where(\.\$or\[0\])+: nested deeper than 16 levels/);
  const count = (q: JsonObject) => (e.query({ ...q, count: true }) as { count: number }).count;
  t.equal(count({ where: { tags: { $in: Array.from({ length: 1000 }, (_, i) => `t${i * 2}`) } } }), 1, 'a list of 1,000 values');
  t.match(codeOf(() => e.query({ where: { tags: { $in: Array.from({ length: 1001 }, (_, i) => i) } } })), /^invalid_input: where\.tags\.\$in: holds at most 1000 values/);
  // Patterns that take exponential time in a backtracking engine run in linear time here: these return.
  t.equal(count({ where: { text: { $regex: '(a|a)*b' } } }), 0, '(a|a)*b over 200,000 characters');
  t.equal(count({ where: { text: { $regex: '^(x+x+)+y$' } } }), 1, '^(x+x+)+y$ over 100,000 characters');
  t.match(codeOf(() => e.query({ where: { text: { $regex: '(a)\\1' } } })), /backreferences are not supported/);
});

t.test('a query past the time limit ends with a timeout error, and the engine goes on', async (t) => {
  const local = localEngines(t);
  t.match(codeOf(() => local.engine('bad-limit', { queryTimeLimitMs: 0 })), /^invalid_input: queryTimeLimitMs/);
  const e = local.engine('limited', { queryTimeLimitMs: 1 });
  e.createDocuments(Array.from({ length: 20_000 }, (_, i) => ({ text: `${'ab'.repeat(50)} ${i}`, n: i })));
  // 20,000 rows through the pattern cannot take under a millisecond.
  t.match(codeOf(() => e.query({ where: { text: { $regex: '(a|b)*c' } } })), /^timeout: the query ran longer than 1 ms/);
  t.equal((e.query({ where: { n: 5 }, count: true }) as { count: number }).count, 1, 'the next query runs');
  e.createDocument({ text: 'after', n: -1 });
  t.equal(e.countDocuments(), 20_001);
});
