import t from 'tap';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, truncateSync } from 'node:fs';
import { SyncEngine, type EngineOptions } from './engine.js';
import { SyncError } from './errors.js';
import type { Logger } from './logger.js';
import { filesHolding } from './test-support/encryption.js';
import { localEngines } from './test-support/harness.js';

/** Words no SQLite structure holds by chance: found in a file's bytes only if a document put them there. */
const SECRET_TITLE = 'Quarterly-Zebra-Ledger';
const SECRET_BODY = 'ultramarine-pangolin-whisper';

function open(opts: EngineOptions): SyncEngine {
  return SyncEngine.open({ ...opts, online: false });
}

/** The SyncError `fn` throws (or fails the test). */
function refusal(fn: () => unknown): SyncError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SyncError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

/** Writes documents whose text lands in the views, the history, a field index and a full-text index. */
function writeSecrets(e: SyncEngine): string[] {
  e.createIndex({ name: 'by_title', fields: ['title'] });
  e.createTextIndex({ name: 'body_text', fields: ['body'] });
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) ids.push(e.createDocument({ title: `${SECRET_TITLE} ${i}`, body: `${SECRET_BODY} number ${i}` }));
  e.updateDocument(ids[0]!, { title: `${SECRET_TITLE} 0`, body: `${SECRET_BODY} edited` });
  return ids;
}

t.test('an encrypted database holds no document text in its file, WAL or shared memory, indexes and full-text tables included', async (t) => {
  const local = localEngines(t);
  for (const encrypted of [false, true]) {
    const opts = local.options(encrypted ? 'sealed' : 'plain', encrypted ? { encryptionKey: randomBytes(32) } : { encryptionKey: undefined });
    const e = open(opts);
    writeSecrets(e);
    // The indexes answer (so their tables are filled) before the files are read.
    t.equal((e.query({ where: { title: `${SECRET_TITLE} 7` } }) as { documents: unknown[] }).documents.length, 1);
    t.equal((e.query({ search: 'ultramarine' }) as { documents: unknown[] }).documents.length, 40);
    t.ok(statSync(`${opts.databasePath}-wal`).size > 0, 'the WAL holds the writes (no checkpoint yet)');
    const open_ = filesHolding(opts.databasePath, SECRET_BODY).concat(filesHolding(opts.databasePath, SECRET_TITLE));
    t.ok(open_.some((f) => f.file.endsWith('-shm')), 'the -shm file exists and is searched');
    if (encrypted) t.same(open_.filter((f) => f.holds), [], 'no file of the encrypted database holds the text while open');
    else t.ok(open_.some((f) => f.holds), 'the plain database does (the search finds what is there)');
    await e.close();
    const closed = filesHolding(opts.databasePath, SECRET_BODY).concat(filesHolding(opts.databasePath, SECRET_TITLE));
    if (encrypted) t.same(closed.filter((f) => f.holds), [], 'nor after close (WAL checkpointed into the file)');
    t.equal(e.isEncrypted(), encrypted);
  }
});

t.test('wrong, missing and truncated keys are refused with their own errors and change nothing; the right key then opens', async (t) => {
  const local = localEngines(t);
  const key = randomBytes(32);
  const opts = local.options('keys', { encryptionKey: key });
  const e = open(opts);
  const ids = writeSecrets(e);
  await e.close();
  const before = readFileSync(opts.databasePath);

  const wrong = refusal(() => open({ ...opts, encryptionKey: randomBytes(32) }));
  t.equal(wrong.code, 'wrong_key');
  t.match(wrong.message, /encryption key does not open/);
  const missing = refusal(() => open({ ...opts, encryptionKey: undefined }));
  t.equal(missing.code, 'wrong_key');
  t.match(missing.message, /is encrypted: open it with its encryption key/);
  const truncated = refusal(() => open({ ...opts, encryptionKey: key.subarray(0, 31) }));
  t.equal(truncated.code, 'invalid_input');
  t.match(truncated.message, /must be 32 bytes \(it has 31\)/);
  const passphrase = refusal(() => open({ ...opts, encryptionKey: 'not the key' }));
  t.equal(passphrase.code, 'wrong_key');
  t.same(readFileSync(opts.databasePath), before, 'the file is byte for byte what it was');

  const again = open(opts);
  t.equal(again.countDocuments(), 40);
  t.equal(again.getDocument(ids[0]!)?.content.body, `${SECRET_BODY} edited`);
  await again.close();
});

t.test('a plain database opened with a key is encrypted, everything kept; opened without one it is refused', async (t) => {
  const local = localEngines(t);
  const opts = local.options('upgrade', { encryptionKey: undefined });
  const plain = open(opts);
  const ids = writeSecrets(plain);
  await plain.close();
  t.same(filesHolding(opts.databasePath, SECRET_BODY).filter((f) => f.holds).length, 1, 'plain at first');

  const key = randomBytes(32);
  const sealed = open({ ...opts, encryptionKey: key });
  t.ok(sealed.isEncrypted());
  t.equal(sealed.countDocuments(), 40);
  t.equal((sealed.query({ search: 'edited' }) as { documents: { id: string }[] }).documents[0]?.id, ids[0]);
  await sealed.close();
  t.same(filesHolding(opts.databasePath, SECRET_BODY).filter((f) => f.holds), [], 'encrypted now');
  t.equal(refusal(() => open(opts)).code, 'wrong_key', 'no longer opens without the key');
  const reopened = open({ ...opts, encryptionKey: key });
  t.same(reopened.listDocuments().map((d) => d.id).sort(), [...ids].sort());
  await reopened.close();
});

t.test('rekey: the new key opens, the old one no longer does; rekey(null) decrypts; passphrases use a per-database salt', async (t) => {
  const local = localEngines(t);
  const first = randomBytes(32);
  const opts = local.options('rekey', { encryptionKey: first });
  const e = open(opts);
  const ids = writeSecrets(e);
  const second = randomBytes(32);
  e.rekey(second);
  const id = e.createDocument({ title: 'after the rekey' });
  await e.close();
  t.equal(refusal(() => open(opts)).code, 'wrong_key', 'the old key is refused');

  const phrase = 'correct horse battery staple';
  const e2 = open({ ...opts, encryptionKey: second });
  t.equal(e2.getDocument(id)?.title, 'after the rekey');
  e2.rekey(phrase);
  await e2.close();
  const e3 = open({ ...opts, encryptionKey: phrase });
  t.equal(e3.countDocuments(), ids.length + 1);
  e3.rekey(null);
  t.notOk(e3.isEncrypted());
  await e3.close();
  t.ok(filesHolding(opts.databasePath, SECRET_BODY).some((f) => f.holds), 'decrypted: the text is in the file again');
  const e4 = open({ ...opts, encryptionKey: undefined });
  t.equal(e4.countDocuments(), ids.length + 1);
  await e4.close();

  // Two databases under one passphrase start with different salts (and so have different keys).
  const a = local.options('salt-a', { encryptionKey: phrase });
  const b = local.options('salt-b', { encryptionKey: phrase });
  await open(a).close();
  await open(b).close();
  t.not(readFileSync(a.databasePath).subarray(0, 16).toString('hex'), readFileSync(b.databasePath).subarray(0, 16).toString('hex'));
});

t.test('keys never appear in errors, logs or explain output', async (t) => {
  const local = localEngines(t);
  const phrase = 'pass-phrase-that-must-not-leak';
  const key = randomBytes(32);
  const lines: string[] = [];
  const keep = (m: string) => void lines.push(m);
  const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep };
  const opts = local.options('quiet', { encryptionKey: phrase, logger });
  const e = open(opts);
  writeSecrets(e);
  const explained = JSON.stringify(e.explain({ where: { title: `${SECRET_TITLE} 1` } }));
  e.rekey(key);
  await e.close();
  const messages = [
    refusal(() => open({ ...opts, encryptionKey: phrase })),
    refusal(() => open({ ...opts, encryptionKey: key.subarray(1) })),
    refusal(() => open({ ...opts, encryptionKey: `raw:${phrase}` })),
  ].map((err) => `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}`);
  const everything = [explained, ...lines, ...messages].join('\n');
  for (const secret of [phrase, key.toString('hex'), key.toString('base64'), key.toString('latin1')]) t.notOk(everything.includes(secret), 'no key material');
});

t.test('a damaged encrypted file is refused as such, never crashes', async (t) => {
  const local = localEngines(t);
  const key = randomBytes(32);
  const opts = local.options('short', { encryptionKey: key });
  const e = open(opts);
  writeSecrets(e);
  await e.close();
  truncateSync(opts.databasePath, 100);
  const err = refusal(() => open(opts));
  t.ok(['wrong_key', 'database'].includes(err.code), err.code);
});
