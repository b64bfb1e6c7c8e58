import t from 'tap';
import { newUuid } from '@json-sync/core';
import { TestClient } from '@json-sync/test-support';
import { fileServer } from './test-support/file-server.js';

const { server, creds, connect } = await fileServer(t, 'hardening_test');

t.test('a base_revision beyond 32 bits is refused as invalid, not a server error, and spoils no batch', async (t) => {
  const a = await connect('huge-base@example.com');
  const { document_id } = await a.create({ n: 1 });
  const [bad, good] = await Promise.all([
    a.mutate({ type: 'update_document', patch: { document_id, patch: [{ op: 'replace', path: '/n', value: 2 }] }, base_revision: 2 ** 40 }),
    a.mutate({ type: 'update_document', patch: { document_id, patch: [{ op: 'replace', path: '/n', value: 3 }] }, base_revision: 1 }),
  ]);
  t.match(bad, { type: 'error', code: 'invalid_message' });
  t.match(good, { type: 'document_updated_response', sync_revision: 2 });
});

t.test("another user naming the same document id cannot turn the owner's merge into a conflict", async (t) => {
  const a = await connect('owner@example.com');
  const a2 = await connect('owner@example.com');
  const hostile = await connect('hostile@example.com');
  const { document_id } = await a.create({ x: 1, y: 1 });
  await a2.mutate({ type: 'update_document', patch: { document_id, patch: [{ op: 'replace', path: '/x', value: 2 }] }, base_revision: 1 });
  // Sent together so they share a batch: the owner's stale but disjoint edit, and a foreign one for the same id.
  const [owner, foreign] = await Promise.all([
    a.mutate({ type: 'update_document', patch: { document_id, patch: [{ op: 'replace', path: '/y', value: 2 }] }, base_revision: 1 }),
    hostile.mutate({ type: 'update_document', patch: { document_id, patch: [{ op: 'replace', path: '/y', value: 9 }] }, base_revision: 1 }),
  ]);
  t.match(owner, { type: 'document_updated_response', merged: true, sync_revision: 3 });
  t.match(foreign, { type: 'error', code: 'document_not_found' });
});

t.test('catch-up pages are cut by size as well as by count', async (t) => {
  const a = await connect('big-pages@example.com');
  const big = 'x'.repeat(500 * 1024);
  for (let i = 0; i < 20; i++) await a.create({ i, big });
  const seen: number[] = [];
  let cursor = 0;
  let pages = 0;
  for (;;) {
    const page = await a.request({ type: 'get_changes_since', last_sequence: cursor }, (m) => m.type === 'changes');
    if (page.type !== 'changes') throw new Error('no page');
    pages++;
    seen.push(...page.events.map((e) => e.sequence));
    if (page.events.length > 0) cursor = page.events[page.events.length - 1]!.sequence;
    if (!page.has_more) break;
  }
  t.same(seen, Array.from({ length: 20 }, (_, i) => i + 1), 'every event once, in order');
  t.ok(pages >= 2, `more than one page for 10 MB of changes (${pages})`);
});

t.test('a client flooding frames faster than they are processed is disconnected', async (t) => {
  const c = await TestClient.open(server.url);
  // Authentication awaits the database; everything sent meanwhile waits behind it.
  c.send(c.authMessage({ email: 'flood@example.com', apiKey: creds.apiKey, secret: creds.secret }));
  for (let i = 0; i < 2000; i++) c.send({ type: 'get_changes_since', last_sequence: 0, mutation_id: newUuid() });
  const closed = await c.closed;
  t.same(closed, { code: 1008, reason: 'too many unprocessed messages' });
});
