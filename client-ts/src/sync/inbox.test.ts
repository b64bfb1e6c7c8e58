import t from 'tap';
import { contentHash, newUuid } from '@json-sync/core';
import { engineParts } from '../test-support/parts.js';
import { Inbox, type InboxItem } from './inbox.js';

const at = '2026-11-30T00:00:00.000Z';

/** `n` pushes of new documents, in sequence order from 1. */
function pushes(n: number): InboxItem[] {
  return Array.from({ length: n }, (_, i) => {
    const content = { title: `pushed ${i}` };
    return {
      type: 'document_created',
      document: { id: newUuid(), user_id: newUuid(), title: content.title, content, sync_revision: 1, content_hash: contentHash(content), created_at: at, updated_at: at, deleted_at: null },
      sequence: i + 1,
      client_id: 'other',
      mutation_id: newUuid(),
    } as InboxItem;
  });
}

/** Pushes the messages and waits until the inbox has applied them; returns how many slices (commits) that took. */
async function slices(inbox: Inbox, parts: ReturnType<typeof engineParts>, messages: InboxItem[]): Promise<number> {
  let commits = 0;
  const off = parts.ctx.counts.onCommitted(() => commits++);
  for (const m of messages) inbox.push(m);
  while (inbox.size > 0) await new Promise((resolve) => setImmediate(resolve));
  off();
  return commits;
}

t.test('messages that arrive together share slices of about a millisecond', async (t) => {
  const parts = engineParts(t);
  const inbox = new Inbox(parts.ctx, () => {});
  const n = await slices(inbox, parts, pushes(50));
  t.ok(n < 50, `50 messages in ${n} slices`);
  t.equal(parts.ctx.counts.documents, 50);
});

t.test('while calls from outside wait, a slice ends after the message at hand, each in order', async (t) => {
  const parts = engineParts(t);
  let asked = 0;
  const inbox = new Inbox(parts.ctx, () => {}, () => (asked++, true));
  t.equal(await slices(inbox, parts, pushes(5)), 5, 'one message per slice');
  t.equal(asked, 5, 'asked after each message');
  t.equal(parts.ctx.cursor.value, 5, 'all applied, in sequence order');
  t.equal(parts.ctx.counts.documents, 5);
});

t.test('a catch-up page is applied event by event: a slice can end inside it, and the page ends caught up', async (t) => {
  const parts = engineParts(t);
  const inbox = new Inbox(parts.ctx, () => {}, () => true);
  const events = Array.from({ length: 4 }, (_, i) => {
    const content = { title: `caught up ${i}` };
    return {
      sequence: i + 1,
      document_id: newUuid(),
      event_type: 'create' as const,
      forward_patch: content,
      reverse_patch: null,
      sync_revision: 1,
      content_hash: contentHash(content),
      client_id: 'other',
      mutation_id: newUuid(),
      created_at: at,
    };
  });
  let commits = 0;
  const off = parts.ctx.counts.onCommitted(() => commits++);
  inbox.push({ type: 'changes', events, latest_sequence: 4, has_more: false });
  while (inbox.size > 0) await new Promise((resolve) => setImmediate(resolve));
  off();
  t.equal(commits, 5, 'four events and the page end, one slice each while calls wait');
  t.equal(parts.ctx.cursor.value, 4, 'every event applied, in order');
  t.equal(parts.ctx.counts.documents, 4);
  t.equal(parts.ctx.catchUp.busy, false, 'the page end left nothing being caught up');
});
