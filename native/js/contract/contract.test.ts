import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3-multiple-ciphers';
import { migrate, SCHEMA_VERSION } from '../../../client-ts/src/storage/schema.js';
import { DELETED_COLUMN, DOCUMENT_MEMBERS, DOCUMENT_VIEW, READ_LIVE_SQL, READ_ONE_SQL, READ_SCHEMA_VERSION } from './document-view.js';
import { ENGINE_OPS } from './ops.js';
import { generatedFiles } from './render-header.js';
import { TEST_OPS } from './test-ops.js';
import type { Handlers, OpTable } from './types.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

t.test('the generated C++ headers are what the contract says (else: npm run generate:contract -w native)', async (t) => {
  for (const file of generatedFiles()) t.equal(readFileSync(join(root, file.path), 'utf8'), file.text, file.path);
});

t.test('the C++ side calls every operation through a generated function, never by its name', async (t) => {
  const header = readFileSync(join(root, 'native/src/contract/engine_ops.h'), 'utf8');
  for (const name of Object.keys(ENGINE_OPS)) t.match(header, `{{"${name}", `, name);
  const sources = ['api_engine.cc', 'api_documents.cc', 'api_attachments.cc', 'api_support.h', 'api_support.cc', 'runtime.cc', 'test_hooks.cc'].map((f) =>
    readFileSync(join(root, 'native/src', f), 'utf8'),
  );
  for (const name of [...Object.keys(ENGINE_OPS), ...Object.keys(TEST_OPS)]) {
    t.notOk(sources.some((text) => text.includes(`"${name}"`)), `"${name}" appears in no hand-written source`);
  }
});

t.test('test-only operations are not among the product operations', async (t) => {
  for (const name of Object.keys(TEST_OPS)) t.notOk(name in ENGINE_OPS, name);
});

t.test('the view the reads select has the document members, then the deleted column, and the statements read it', async (t) => {
  const db = new Database(':memory:');
  t.teardown(() => db.close());
  migrate(db);
  t.equal(READ_SCHEMA_VERSION, SCHEMA_VERSION);
  t.equal(db.pragma('user_version', { simple: true }), READ_SCHEMA_VERSION, 'the reads expect the version the schema brings a file to');
  const columns = (db.prepare(`PRAGMA table_info(${DOCUMENT_VIEW})`).all() as { name: string }[]).map((c) => c.name);
  t.same(columns, [...DOCUMENT_MEMBERS.map(([name]) => name), DELETED_COLUMN]);

  const insert = db.prepare(`INSERT INTO views (id, content, deleted, title, revision, pending, created_at, updated_at, deleted_at)
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  insert.run('b', '{"title":"B"}', 0, 'B', 4, 1, '2026-01-02', '2026-01-03', null);
  insert.run('a', '{"title":"A"}', 0, 'A', null, 0, '2026-01-01', '2026-01-01', null);
  insert.run('c', '{}', 1, null, 2, 0, '2026-01-01', '2026-01-04', '2026-01-04');
  // better-sqlite3 binds a numbered parameter (?1) by its number as a key.
  t.same(db.prepare(READ_ONE_SQL).raw().get({ 1: 'b' }), ['b', 'B', '{"title":"B"}', 4, 1, '2026-01-02', '2026-01-03', null]);
  t.same(db.prepare(READ_ONE_SQL).raw().get({ 1: 'c' }), ['c', null, '{}', 2, 0, '2026-01-01', '2026-01-04', '2026-01-04'], 'a deleted document is found by id');
  t.same(db.prepare(READ_LIVE_SQL).pluck().all(), ['a', 'b'], 'live ones only, oldest first');
});

t.test('a handler table must match its operation table exactly (checked by npm run typecheck)', async (t) => {
  const table = { ping: { doc: 'answers text', args: { n: 'u32' }, result: 'text' } } as const satisfies OpTable;
  const complete: Handlers<typeof table, {}> = { ping: (_engine, { n }) => String(n + 1) };
  // @ts-expect-error a missing handler
  const missing: Handlers<typeof table, {}> = {};
  // @ts-expect-error a handler of no operation
  const extra: Handlers<typeof table, {}> = { ping: () => 'x', pong: () => 'y' };
  // @ts-expect-error an argument typed otherwise than the table says
  const wrongArgument: Handlers<typeof table, {}> = { ping: (_engine: number, { n }: { n: string }) => n };
  // @ts-expect-error a text operation answering nothing
  const noText: Handlers<typeof table, {}> = { ping: () => undefined };
  t.equal(complete.ping(0, { n: 1 }), '2');
  t.ok([missing, extra, wrongArgument, noText]);
});
