import t, { type Test } from 'tap';
import { applyPatch, newUuid, reversePatch, type JsonObject } from '@json-sync/core';
import { mulberry32 } from '@json-sync/test-support';
import { SyncError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { createPlan } from '../sync/local-changes.js';
import { ModelServer } from '../test-support/model-server.js';
import { engineParts, ScriptedWire, type Parts } from '../test-support/parts.js';
import { Indexes } from './indexes.js';
import { LiveQueries } from './live-queries.js';
import type { QueryDiff, QueryDocumentJson } from './query-api.js';
import { Queries } from './queries.js';

/**
 * Live queries over an engine's parts, with a model server sending others' changes: after every
 * commit, each watch's result rebuilt from its diffs equals the query run afresh.
 */

interface Live {
  p: Parts;
  wire: ScriptedWire;
  server: ModelServer;
  queries: Queries;
  live: LiveQueries;
  indexes: Indexes;
}

function liveParts(t: Test): Live {
  const wire = new ScriptedWire();
  const p = engineParts(t, { wire });
  const indexes = new Indexes(p.ctx.store);
  const queries = new Queries(p.ctx.store.db, () => indexes.catalog(), 2000);
  const live = new LiveQueries(p.ctx.store, queries, silentLogger);
  p.ctx.counts.onCommitted(() => live.committed());
  const server = new ModelServer();
  p.ctx.inbox.connected();
  p.ctx.session.authenticated(0);
  return { p, wire, server, queries, live, indexes };
}

/** Applies a diff to a result as QueryDiff documents it. */
function applyDiff(result: QueryDocumentJson[], diff: QueryDiff): QueryDocumentJson[] {
  const removed = new Set([...diff.removed, ...diff.moved.map((m) => m.id)]);
  const movedDocs = new Map(result.filter((d) => diff.moved.some((m) => m.id === d.id)).map((d) => [d.id, d]));
  const next = result.filter((d) => !removed.has(d.id));
  const inserts = [...diff.added.map((a) => ({ index: a.index, doc: a.document })), ...diff.moved.map((m) => ({ index: m.index, doc: movedDocs.get(m.id)! }))].sort((a, b) => a.index - b.index);
  for (const { index, doc } of inserts) next.splice(index, 0, doc);
  const changed = new Map(diff.changed.map((d) => [d.id, d]));
  return next.map((d) => changed.get(d.id) ?? d);
}

/** Follows a watch: its result kept by applying every diff, and the number of calls. */
function follow(l: Live, query: JsonObject, options: { total?: boolean } = {}) {
  const state = { result: [] as QueryDocumentJson[], calls: 0, total: undefined as number | undefined, stop: () => {} };
  state.stop = l.live.watch(query, (diff) => {
    state.calls++;
    state.result = applyDiff(state.result, diff);
    if (diff.total !== undefined) state.total = diff.total;
  }, options);
  return state;
}

const WATCHED: JsonObject[] = [
  { where: { status: 'open' } },
  { where: { n: { $gte: 3 } }, sort: [{ n: 'desc' }], limit: 5 },
  { sort: [{ title: 'asc' }], limit: 7, fields: ['title', 'n'] },
  { where: { $or: [{ tags: 'x' }, { status: { $exists: false } }] }, sort: [{ n: 'asc' }] },
  { where: { 'meta.k': { $in: [1, 2] } } },
  { where: { tags: 'x' }, sort: [{ 'meta.k': 'desc' }, { n: 'asc' }], limit: 3 },
];

t.test('every diff applied to the previous result equals the query run afresh, over 1,200 random local and remote commits', async (t) => {
  const l = liveParts(t);
  const rnd = mulberry32(7);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const watches = WATCHED.map((q, i) => ({ q, state: follow(l, q, i === 1 ? { total: true } : {}) }));
  const ids: string[] = [];
  const content = (): JsonObject => ({
    title: pick(['a', 'b', 'c', 'd', 'e']) + Math.floor(rnd() * 10),
    status: pick(['open', 'done', 'open']),
    n: Math.floor(rnd() * 8),
    tags: rnd() < 0.5 ? ['x'] : [],
    meta: { k: Math.floor(rnd() * 4) },
  });
  let commits = 0;
  for (let step = 0; commits < 1200; step++) {
    const r = rnd();
    if (r < 0.45) {
      const id = ids.length === 0 || rnd() < 0.3 ? newUuid() : pick(ids);
      try {
        if (!ids.includes(id)) {
          l.p.local.change(id, 'local', createPlan(id, content()));
          ids.push(id);
        } else if (rnd() < 0.15) l.p.local.change(id, 'local', (c) => (c.content ? { kind: 'delete', content: null, forward: null, reverse: c.content } : null));
        else {
          l.p.local.change(id, 'local', (c) => {
            if (!c.content) return null;
            const ops = [{ op: 'replace' as const, path: '/n', value: Math.floor(rnd() * 8) }, ...(rnd() < 0.3 ? [{ op: 'replace' as const, path: '/status', value: pick(['open', 'done']) }] : [])];
            const next = applyPatch(c.content, ops);
            return { kind: 'update', content: next, forward: ops, reverse: reversePatch(c.content, next) };
          });
        }
        commits++;
      } catch (err) {
        if (!(err instanceof SyncError)) throw err;
      }
    } else if (r < 0.75) {
      const id = ids.length === 0 || rnd() < 0.2 ? newUuid() : pick(ids);
      const push = l.server.other(id, (d) => {
        if (!d || d.deleted) return { type: 'create', content: content() };
        if (rnd() < 0.1) return { type: 'delete' };
        return { type: 'update', ops: [{ op: 'replace', path: '/n', value: Math.floor(rnd() * 8) }] };
      });
      if (!ids.includes(id)) ids.push(id);
      if (push) l.p.ctx.inbox.push(push);
    } else {
      // The server reads what the engine sent and answers.
      for (const m of l.wire.take()) for (const reply of l.server.receive(m, l.p.ctx.clientId)) l.p.ctx.inbox.push(reply);
    }
    await new Promise((resolve) => setImmediate(resolve));
    if (step % 7 === 0 || commits >= 1200) {
      for (const { q, state } of watches) {
        const fresh = l.queries.run(JSON.stringify(q)) as { documents: QueryDocumentJson[] };
        if (JSON.stringify(state.result) !== JSON.stringify(fresh.documents)) {
          t.same(state.result, fresh.documents, `step ${step}: ${JSON.stringify(q)}`);
          return;
        }
      }
    }
  }
  for (const { q, state } of watches) {
    t.same(state.result, (l.queries.run(JSON.stringify(q)) as { documents: QueryDocumentJson[] }).documents, `${JSON.stringify(q)} followed ${state.calls} diffs`);
  }
  const withTotal = watches[1]!;
  t.equal(withTotal.state.total, (l.queries.run(JSON.stringify({ where: WATCHED[1]!.where, count: true })) as { count: number }).count, 'total: every match, past the page');
});

t.test('one call per commit however many documents it touched; commits that cannot change the result call nothing', async (t) => {
  const l = liveParts(t);
  const open = follow(l, { where: { status: 'open' } });
  t.equal(open.calls, 1, 'the first result at once (empty)');
  l.p.local.createMany(Array.from({ length: 50 }, (_, i) => ({ id: newUuid(), content: { status: i % 2 ? 'open' : 'done' }, text: JSON.stringify({ status: i % 2 ? 'open' : 'done' }) })));
  t.equal(open.calls, 2, '50 documents in one commit: one call');
  t.equal(open.result.length, 25);
  const done = newUuid();
  l.p.local.change(done, 'local', createPlan(done, { status: 'done' }));
  t.equal(open.calls, 2, 'a document that does not match, and was not in the result: no call');
});

t.test('a watch closed in its own handler is never called again; thousands of watches follow one write', async (t) => {
  const l = liveParts(t);
  let calls = 0;
  const stop = l.live.watch({ where: { n: 1 } }, () => {
    calls++;
    if (calls === 2) stop();
  });
  for (let i = 0; i < 3; i++) {
    const id = newUuid();
    l.p.local.change(id, 'local', createPlan(id, { n: 1 }));
  }
  t.equal(calls, 2, 'stopped inside its handler');
  const many = Array.from({ length: 2000 }, (_, i) => follow(l, { where: { n: i % 10 } }));
  t.equal(l.live.size, 2000);
  const id = newUuid();
  l.p.local.change(id, 'local', createPlan(id, { n: 3 }));
  t.same(
    many.filter((w) => w.calls === 2).length,
    200,
    'the 200 watches the write concerns got one call each; the others none',
  );
  t.ok(many.filter((w) => w.calls === 2).every((w) => w.result.some((d) => d.id === id)));
  for (const w of many) w.stop();
  t.equal(l.live.size, 0);
});

t.test('a bad live query is refused at once', async (t) => {
  const l = liveParts(t);
  t.throws(() => l.live.watch({ where: { a: { $bad: 1 } } }, () => {}), { code: 'invalid_input', message: /where\.a\.\$bad: unknown operator/ });
  t.throws(() => l.live.watch({ count: true }, () => {}), { code: 'invalid_input' });
  t.throws(() => l.live.watch({}, 'x' as never), { code: 'invalid_input' });
});
