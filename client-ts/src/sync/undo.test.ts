import t from 'tap';
import { newUuid } from '@json-sync/core';
import { SyncError } from '../errors.js';
import { engineParts, type Parts } from '../test-support/parts.js';
import { created, updated } from '../test-support/stream.js';
import { createPlan } from './local-changes.js';
import { UndoStack } from './undo.js';

function edit(p: Parts, id: string, path: string, value: string) {
  p.local.change(id, 'local', ({ content }) => {
    const before = content![path.slice(1)];
    return { kind: 'update', content: { ...content!, [path.slice(1)]: value }, forward: [{ op: 'replace', path, value }], reverse: [{ op: 'replace', path, value: before }] };
  });
}

function undoOrRedo(p: Parts, id: string, direction: 'undo' | 'redo') {
  const stack = new UndoStack(p.ctx.store);
  const entry = stack.target(id, direction);
  p.local.change(id, direction, ({ view, content }) => stack.plan(entry, view !== undefined && view.deleted === 0, content, direction), () => stack.done(entry, direction));
}

const contentOf = (p: Parts, id: string) => JSON.parse(p.ctx.store.getView(id)!.content);

function codeOf(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    return err instanceof SyncError ? err.code : String(err);
  }
  return 'no error';
}

t.test('undo reverts the latest change not yet undone; redo repeats the one undone last', async (t) => {
  const p = engineParts(t);
  const id = newUuid();
  p.local.change(id, 'local', createPlan(id, { a: 'a0', b: 'b0' }));
  edit(p, id, '/a', 'a1');
  edit(p, id, '/b', 'b1');
  undoOrRedo(p, id, 'undo');
  t.same(contentOf(p, id), { a: 'a1', b: 'b0' });
  undoOrRedo(p, id, 'undo');
  t.same(contentOf(p, id), { a: 'a0', b: 'b0' });
  undoOrRedo(p, id, 'redo');
  t.same(contentOf(p, id), { a: 'a1', b: 'b0' }, 'the change undone last comes back first');
  t.same(
    p.ctx.store.history(id).map((h) => [h.origin, h.undone]),
    [
      ['local', 0],
      ['local', 1],
      ['local', 1],
      ['undo', 0],
      ['undo', 0],
      ['redo', 0],
    ],
    'the redone change stays undone: its redo entry is what a next undo reverts',
  );
  edit(p, id, '/a', 'a2');
  t.equal(codeOf(() => undoOrRedo(p, id, 'redo')), 'not_found', 'a new local change clears redo');
});

t.test('undo of a create deletes; undo of that undo-delete is refused while the document lives', async (t) => {
  const p = engineParts(t);
  const id = newUuid();
  p.local.change(id, 'local', createPlan(id, { title: 'x' }));
  undoOrRedo(p, id, 'undo');
  t.equal(p.ctx.store.getView(id)?.deleted, 1);
  undoOrRedo(p, id, 'redo');
  t.equal(p.ctx.store.getView(id)?.deleted, 0, 'redo revives it');
});

t.test('undo is refused, writing nothing, when a later change of someone else touched the same path; allowed when another path', async (t) => {
  const p = engineParts(t);
  const { replica, store } = p.ctx;
  const id = newUuid();
  const content = { a: 'a0', b: 'b0' };
  p.apply(() => replica.receive(created(1, id, content)));
  edit(p, id, '/a', 'mine');
  const after = { a: 'theirs', b: 'b0' };
  // The server applied someone else's change of /a on top (ours is still unanswered here).
  p.apply(() => replica.receive(updated(2, id, [{ op: 'replace', path: '/a', value: 'theirs' }], 2, after)));
  const before = store.history(id);
  t.equal(codeOf(() => undoOrRedo(p, id, 'undo')), 'conflict');
  t.same(store.history(id), before, 'nothing written');

  const other = newUuid();
  p.local.change(other, 'local', createPlan(other, { a: 'a0', b: 'b0' }));
  edit(p, other, '/a', 'mine');
  edit(p, other, '/b', 'later, elsewhere');
  const stack = new UndoStack(store);
  // The latest change (/b) is undone first; then /a's, which /b's change did not touch.
  undoOrRedo(p, other, 'undo');
  t.doesNotThrow(() => stack.target(other, 'undo'));
});
