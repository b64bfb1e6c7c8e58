import t from 'tap';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentHash } from '@json-sync/core';
import { pgliteCopy } from './test-support/pglite-template.js';
import { startServer } from './test-support/server-process.js';
import { TestClient } from './test-support/ws-client.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function credentialsFrom(stdout: string): { apiKey: string; secret: string } {
  const apiKey = /^API Key: (rpa_[0-9a-f]{64})$/m.exec(stdout)?.[1];
  const secret = /^Secret: (rps_[0-9a-f]{64})$/m.exec(stdout)?.[1];
  if (!apiKey || !secret) throw new Error(`no credentials printed:\n${stdout}`);
  return { apiKey, secret };
}

t.test('storage on the embedded database: changes, catch-up, conflicts and a restart', async (t) => {
  const dir = await pgliteCopy();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let server = await startServer({ dataDir: dir });
  const creds = credentialsFrom(server.stdout());
  const id = { email: 'carol@example.com', ...creds };
  const a = await TestClient.connect(server.url, id);
  const b = await TestClient.connect(server.url, id);

  const created = await a.create({ title: 'on pglite', tags: ['x'] });
  t.equal(created.sync_revision, 1);
  t.equal(created.content_hash, contentHash({ title: 'on pglite', tags: ['x'] }));
  t.match(await b.next((m) => m.type === 'document_created'), { document: { id: created.document_id, title: 'on pglite' } });

  const updated = await a.mutate({ type: 'update_document', patch: { document_id: created.document_id, patch: [{ op: 'add', path: '/tags/-', value: 'y' }] }, base_revision: 1 });
  t.match(updated, { type: 'document_updated_response', sync_revision: 2, sequence: 2 });
  const lost = await b.mutate({ type: 'update_document', patch: { document_id: created.document_id, patch: [{ op: 'replace', path: '/tags', value: [] }] }, base_revision: 1 });
  t.match(lost, { type: 'conflict_detected', server_document: { sync_revision: 2, content: { tags: ['x', 'y'] } } });

  const other = await a.create({ n: 1 });
  const deleted = await a.mutate({ type: 'delete_document', document_id: other.document_id, base_revision: 1 });
  t.match(deleted, { type: 'document_deleted_response', sync_revision: 2, sequence: 4 });

  const changes = await a.request({ type: 'get_changes_since', last_sequence: 0 }, (m) => m.type === 'changes');
  t.match(changes, { latest_sequence: 4, has_more: false });
  t.same((changes as { events: { sequence: number }[] }).events.map((e) => e.sequence), [1, 2, 3, 4]);
  a.close();
  b.close();

  const stopped = await server.stop('SIGTERM');
  t.equal(stopped.code, 0, 'graceful exit');
  server = await startServer({ dataDir: dir });
  t.teardown(() => server.stop());
  t.notMatch(server.stdout(), /API Key:/, 'credentials are printed on the first start only');
  const c = await TestClient.connect(server.url, id);
  t.teardown(() => c.close());
  const full = c.next((m) => m.type === 'sync_complete');
  c.send({ type: 'request_full_sync' });
  t.match(await full, { synced_count: 1, latest_sequence: 4 });
  t.match(c.all('sync_document'), [{ document: { id: created.document_id, sync_revision: 2, content: { title: 'on pglite', tags: ['x', 'y'] } } }]);
});

t.test('npm start on a bare embedded database gives a usable server', async (t) => {
  const dir = await pgliteCopy();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { ...process.env, LOG_LEVEL: 'warn' } as Record<string, string>;
  delete env.DATABASE_URL;
  const child = spawn('npm', ['start', '--', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not listen:\n${out}`)), 90_000);
    child.stdout!.on('data', () => {
      const m = /listening on ws:\/\/[^:]+:(\d+)\/ws/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  const creds = credentialsFrom(out);
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  t.equal(health.status, 200);
  const client = await TestClient.connect(`ws://127.0.0.1:${port}/ws`, { email: 'first@example.com', ...creds });
  t.teardown(() => client.close());
  const r = await client.create({ title: 'first document' });
  t.equal(r.sequence, 1);
});
