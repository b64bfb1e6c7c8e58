import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { SyncEngine } from '../engine.js';
import { migrate, SCHEMA_VERSION } from './schema.js';

t.test('a version-1 file (separate outbox, history and documents) opens with everything it held', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-schema-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'v1.db');
  const db = new Database(path);
  migrate(db, 1);
  const doc = 'aaaaaaaa-0000-4000-8000-000000000001';
  const gone = 'aaaaaaaa-0000-4000-8000-000000000002';
  const sent = 'bbbbbbbb-0000-4000-8000-000000000001';
  const waiting = 'bbbbbbbb-0000-4000-8000-000000000002';
  const at = '2026-11-01T00:00:00.000Z';
  db.prepare(`INSERT INTO sync_state VALUES ('cursor', '7'), ('client_id', 'cccccccc-0000-4000-8000-000000000001')`).run();
  db.prepare(`INSERT INTO documents VALUES (?, ?, 3, 0, 4, ?, 0, 'Doc', ?, ?, NULL)`).run(doc, JSON.stringify({ title: 'Doc', n: 3 }), JSON.stringify({ title: 'Doc', n: 5 }), at, at);
  db.prepare(`INSERT INTO documents VALUES (?, NULL, NULL, 0, NULL, ?, 1, NULL, ?, ?, ?)`).run(gone, '{}', at, at, at);
  const history = db.prepare(`INSERT INTO history (document_id, origin, kind, forward, reverse, mutation_id, sequence, sync_revision, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  history.run(doc, 'remote', 'create', JSON.stringify({ title: 'Doc', n: 3 }), null, null, 5, 3, at);
  history.run(doc, 'local', 'update', '[{"op":"replace","path":"/n","value":4}]', '[{"op":"replace","path":"/n","value":3}]', sent, null, null, at);
  history.run(doc, 'local', 'update', '[{"op":"replace","path":"/n","value":5}]', '[{"op":"replace","path":"/n","value":4}]', waiting, null, null, at);
  const outbox = db.prepare(`INSERT INTO outbox (mutation_id, document_id, kind, payload, sent_message, acked_sequence, created_at) VALUES (?, ?, 'update', ?, ?, ?, ?)`);
  outbox.run(sent, doc, '[{"op":"replace","path":"/n","value":4}]', JSON.stringify({ type: 'update_document', base_revision: 3, mutation_id: sent }), 8, at);
  outbox.run(waiting, doc, '[{"op":"replace","path":"/n","value":5}]', null, null, at);
  db.close();

  const e = SyncEngine.open({ databasePath: path, serverUrl: 'ws://127.0.0.1:9/ws', email: 'v1@example.com', apiKey: 'rpa_x', apiSecret: 'rps_x', online: false });
  t.teardown(() => e.close(50));
  t.equal(e.clientId, 'cccccccc-0000-4000-8000-000000000001');
  t.match(e.getDocument(doc), { title: 'Doc', content: { title: 'Doc', n: 5 }, syncRevision: 4, pending: 1 });
  t.match(e.getDocument(gone), { deletedAt: at });
  t.equal(e.pendingCount(), 1, 'one entry unanswered, one answered');
  t.same(
    e.history(doc).map((h) => [h.origin, h.kind, h.mutationId, h.sequence]),
    [
      ['remote', 'create', null, 5],
      ['local', 'update', sent, null],
      ['local', 'update', waiting, null],
    ],
  );
  const store = new Database(path, { readonly: true, fileMustExist: true });
  t.teardown(() => store.close());
  t.equal(store.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  t.same(
    store.prepare('SELECT mutation_id, state, sent_base, acked_sequence FROM changes WHERE mutation_id IS NOT NULL ORDER BY seq').all(),
    [
      { mutation_id: sent, state: 1, sent_base: 3, acked_sequence: 8 },
      { mutation_id: waiting, state: 0, sent_base: null, acked_sequence: null },
    ],
    'the outbox keeps what was sent (its base) and what was answered',
  );
  t.same(store.prepare('SELECT id, revision, deleted FROM bases').all(), [{ id: doc, revision: 3, deleted: 0 }]);
});
