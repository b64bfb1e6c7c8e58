import t from 'tap';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { credentialsFrom, startServer, TestClient } from '@json-sync/test-support';
import { pgliteCopy } from './test-support/pglite-template.js';

// The server on its embedded database, as a process. What the embedded database stores and reads
// back (mutations, conflicts, catch-up, full sync, pruning) is held by the storage conformance
// suite on PGlite itself (db/storage-pglite.test.ts).

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

t.test('a server on the embedded database: pushes, a graceful stop, and its documents after a restart', async (t) => {
  const dir = await pgliteCopy();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let server = await startServer({ dataDir: dir });
  const creds = credentialsFrom(server.stdout());
  const id = { email: 'carol@example.com', ...creds };
  const a = await TestClient.connect(server.url, id);
  const b = await TestClient.connect(server.url, id);

  const created = await a.create({ title: 'on pglite', tags: ['x'] });
  t.match(await b.next((m) => m.type === 'document_created'), { document: { id: created.document_id, title: 'on pglite' } });
  const updated = await a.mutate({ type: 'update_document', patch: { document_id: created.document_id, patch: [{ op: 'add', path: '/tags/-', value: 'y' }] }, base_revision: 1 });
  t.match(updated, { type: 'document_updated_response', sync_revision: 2, sequence: 2 });
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
  t.match(await full, { synced_count: 1, latest_sequence: 2 });
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
