import t from 'tap';
import { computeView } from './view.js';

const base = (content: object | null, deleted = 0) => ({ content: content === null ? null : JSON.stringify(content), deleted });
const create = (content: object) => ({ kind: 'create' as const, forward: JSON.stringify(content) });
const update = (ops: object[]) => ({ kind: 'update' as const, forward: JSON.stringify(ops) });
const remove = { kind: 'delete' as const, forward: null };

t.test('no base and no entries: nothing there', async (t) => {
  t.same(computeView(undefined, []), { content: null, deleted: true, failed: [] });
});

t.test('the base with every entry re-applied in order', async (t) => {
  const v = computeView(base({ n: 1 }), [update([{ op: 'replace', path: '/n', value: 2 }]), update([{ op: 'add', path: '/m', value: 3 }])]);
  t.same(v, { content: { n: 2, m: 3 }, deleted: false, failed: [] });
});

t.test('a create on nothing, then its updates; a delete at the end', async (t) => {
  const entries = [create({ title: 'new' }), update([{ op: 'add', path: '/x', value: 1 }]), remove];
  t.same(computeView(undefined, entries), { content: { title: 'new', x: 1 }, deleted: true, failed: [] });
});

t.test('a create revives a deleted base', async (t) => {
  t.same(computeView(base({ old: true }, 1), [create({ fresh: true })]), { content: { fresh: true }, deleted: false, failed: [] });
});

t.test('entries that no longer apply are returned as failed and skipped; the rest still apply', async (t) => {
  const createOnLive = create({ again: 1 });
  const missingPath = update([{ op: 'replace', path: '/gone', value: 1 }]);
  const good = update([{ op: 'add', path: '/ok', value: true }]);
  const v = computeView(base({ n: 1 }), [createOnLive, missingPath, good]);
  t.same(v.content, { n: 1, ok: true });
  t.equal(v.deleted, false);
  t.equal(v.failed.length, 2);
  t.equal(v.failed[0], createOnLive, 'the very entries, in order');
  t.equal(v.failed[1], missingPath);
});

t.test('updates and deletes of a deleted document fail', async (t) => {
  const u = update([{ op: 'add', path: '/x', value: 1 }]);
  const v = computeView(base({ n: 1 }, 1), [u, remove]);
  t.same(v.failed, [u, remove]);
  t.equal(v.deleted, true);
});
