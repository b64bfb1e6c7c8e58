import t from 'tap';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3-multiple-ciphers';
import { SyncError } from '../errors.js';
import { localEngines } from '../test-support/harness.js';
import { applyKey } from './encryption.js';

const walSize = (path: string) => statSync(`${path}-wal`).size;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TEXT = 'x'.repeat(8000);

/** What the C SDK's checkpoint thread does: a PASSIVE checkpoint on a connection of its own. */
function checkpointOn(path: string, key: unknown) {
  const db = new Database(path);
  if (key) applyKey(db, key as Buffer);
  return {
    run: () => db.pragma('wal_checkpoint(PASSIVE)'),
    close: () => db.close(),
  };
}

t.test('with checkpointWith, the engine asks for checkpoints when writes pause and never runs one on its own connection', async (t) => {
  const local = localEngines(t);
  const opts = local.options('elsewhere');
  const e = local.engine('elsewhere');
  let asked = 0;
  e.checkpointWith(() => asked++);
  for (let i = 0; i < 50; i++) e.createDocument({ title: `t${i}`, body: TEXT });
  const written = walSize(opts.databasePath);
  t.ok(written > 50 * 8000, `the WAL holds the writes (${written} bytes)`);
  await sleep(700);
  t.ok(asked >= 1, `asked once writes paused (${asked})`);
  e.createDocument({ title: 'after the pause' });
  t.ok(walSize(opts.databasePath) >= written, 'nothing was checkpointed here: the WAL did not restart');
});

t.test('a checkpoint run elsewhere lets the engine restart its WAL at its next write', async (t) => {
  const local = localEngines(t);
  const opts = local.options('restart');
  const e = local.engine('restart');
  const other = checkpointOn(opts.databasePath, opts.encryptionKey);
  t.teardown(other.close);
  e.checkpointWith(other.run);
  for (let i = 0; i < 50; i++) e.createDocument({ title: `t${i}`, body: TEXT });
  const written = walSize(opts.databasePath);
  await sleep(700);
  e.createDocument({ title: 'after the pause' });
  const after = walSize(opts.databasePath);
  t.ok(after < written / 10, `the WAL restarted: ${written} → ${after} bytes`);
  t.equal(e.countDocuments(), 51);
  t.equal(e.getDocument(e.listDocuments()[0]!.id)?.content.body, TEXT, 'the documents read back whole');
});

t.test('writes that never pause ask for a checkpoint once the WAL passes a few MB', async (t) => {
  const local = localEngines(t);
  const e = local.engine('busy');
  let asked = 0;
  e.checkpointWith(() => asked++);
  // 1,100 commits of ~8 KB: the WAL passes 4 MB well before the second size check (every 512 commits).
  for (let i = 0; i < 1100 && asked === 0; i++) e.createDocument({ title: `t${i}`, body: TEXT });
  t.ok(asked >= 1, 'asked during the writes, with no pause');
});

t.test('checkpointWith takes a function only', async (t) => {
  const e = localEngines(t).engine('bad');
  for (const bad of [null, undefined, 1, 'run', {}]) {
    t.throws(() => e.checkpointWith(bad as unknown as () => void), SyncError, String(bad));
  }
  await e.close();
  t.throws(() => e.checkpointWith(() => {}), { code: 'closed' }, 'a closed engine refuses it');
});
