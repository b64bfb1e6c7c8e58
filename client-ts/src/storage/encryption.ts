// Encryption at rest. The engine's SQLite is SQLite3 Multiple Ciphers (better-sqlite3-multiple-ciphers):
// with a key, every page of the file and of its WAL is encrypted with ChaCha20-Poly1305 — document
// views, outbox, history, query indexes and full-text tables alike (README, "Encryption at rest",
// says why this cipher). The -shm file holds only page numbers and checksums.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3-multiple-ciphers';
import { SyncError } from '../errors.js';

/**
 * 32 raw bytes, used as the cipher's key as they are (no key derivation: no cost at open); or a
 * passphrase, run through the cipher's KDF — PBKDF2-HMAC-SHA256, 64,007 iterations, over a random
 * 16-byte salt kept in the first bytes of each database file (a new salt at every rekey).
 */
export type EncryptionKey = Uint8Array | string;

export const RAW_KEY_BYTES = 32;
/** SQLite3 Multiple Ciphers' name of ChaCha20-Poly1305 (its sqleet-compatible scheme). */
const CIPHER = 'chacha20';

/** What a database file holds on disk. */
export type FileForm = 'none' | 'plain' | 'encrypted';

/**
 * Refuses what cannot be a key, saying why without ever quoting it. A passphrase may not start with
 * `raw:` or `x'`: SQLite3 Multiple Ciphers reads those as raw-key syntax.
 */
export function checkEncryptionKey(key: unknown, what: string): asserts key is EncryptionKey | null | undefined {
  if (key === undefined || key === null) return;
  if (key instanceof Uint8Array) {
    if (key.length !== RAW_KEY_BYTES) throw new SyncError('invalid_input', `${what} must be ${RAW_KEY_BYTES} bytes (it has ${key.length}), or a passphrase string`);
    return;
  }
  if (typeof key !== 'string' || key === '') throw new SyncError('invalid_input', `${what} must be ${RAW_KEY_BYTES} bytes or a non-empty passphrase string`);
  if (/^(raw:|x')/i.test(key)) throw new SyncError('invalid_input', `${what}: a passphrase may not start with "raw:" or "x'" (the cipher's raw-key syntax)`);
}

/** The bytes sqlite3_key takes for `key`: "raw:" + the 32 bytes, or the passphrase's UTF-8. The caller zeroes them. */
function cipherKey(key: EncryptionKey): Buffer {
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  // Buffer.alloc, never the shared pool: the bytes are zeroed after use and must be ours alone.
  const out = Buffer.alloc(4 + RAW_KEY_BYTES);
  out.write('raw:', 0, 'latin1');
  out.set(key, 4);
  return out;
}

/** Keys a connection that has read nothing yet. The key's bytes are zeroed at once: SQLite keeps what it derived from them. */
export function applyKey(db: Database.Database, key: EncryptionKey): void {
  db.pragma(`cipher = '${CIPHER}'`);
  // Sorts and temporary tables stay in memory: SQLite's temporary files would hold plaintext.
  db.pragma('temp_store = MEMORY');
  const bytes = cipherKey(key);
  try {
    db.key(bytes);
  } finally {
    bytes.fill(0);
  }
}

/** "SQLite format 3\0": a plain file's first bytes; an encrypted file starts with its salt instead. */
const PLAIN_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

export function fileForm(path: string): FileForm {
  if (path === ':memory:' || !existsSync(path) || statSync(path).size === 0) return 'none';
  const head = Buffer.alloc(PLAIN_HEADER.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  return head.equals(PLAIN_HEADER) ? 'plain' : 'encrypted';
}

/**
 * `<file>-rekey`, present while a rekey runs: its `from` says in which form the rollback journal
 * keeps the pages. A crash midway leaves a hot journal that restores the file as it was before the
 * rekey — only when read in that form: a journal of encrypted pages read without a key would be
 * replayed as garbage, so the form of the file's first page (already rewritten) must not decide.
 */
interface RekeyMarker {
  from: 'plain' | 'encrypted';
}

const markerPath = (path: string) => `${path}-rekey`;

function writeDurably(path: string, text: string | null): void {
  if (text === null) {
    rmSync(path, { force: true });
  } else {
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  // The directory entry too: the marker must be on disk before the rekey's first page is.
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function readMarker(path: string): RekeyMarker | null {
  try {
    const m = JSON.parse(readFileSync(markerPath(path), 'utf8')) as RekeyMarker;
    return m.from === 'plain' || m.from === 'encrypted' ? m : null;
  } catch {
    return null;
  }
}

function hasHotJournal(path: string): boolean {
  return existsSync(`${path}-journal`) && statSync(`${path}-journal`).size > 0;
}

/**
 * The form a database must be opened in: the file's own, or — after a rekey was interrupted — the
 * form its rollback journal restores.
 */
export function formToOpen(path: string): FileForm {
  const marker = readMarker(path);
  if (marker && hasHotJournal(path)) return marker.from;
  return fileForm(path);
}

/** A rekey's marker is kept until no journal is left to roll back: the first successful read after open plays it back. */
export function forgetInterruptedRekey(path: string): void {
  if (existsSync(markerPath(path)) && !hasHotJournal(path)) writeDurably(markerPath(path), null);
}

export function wrongKey(path: string, form: FileForm, keyed: boolean): SyncError {
  return new SyncError(
    'wrong_key',
    form === 'encrypted' && !keyed
      ? `${path} is encrypted: open it with its encryption key`
      : `the encryption key does not open ${path} (a wrong key, or not a database)`,
  );
}

/** Whether `err` is SQLite refusing to read the file: what a wrong key looks like (the pages do not authenticate). */
export function isNotADatabase(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_NOTADB';
}

/**
 * Encrypts, re-encrypts or (key null) decrypts the database in place, crash-safely: the cipher
 * rewrites every page in one transaction of a rollback journal written with the old key (or
 * plain), so a crash midway leaves the file readable with the old key (or none), and after the
 * commit with the new one only. SQLite3 Multiple Ciphers cannot rekey in WAL mode: the WAL is
 * checkpointed into the file and the journal mode switched for the duration, which needs `db` to be
 * the file's only connection.
 */
export function rekeyDatabase(db: Database.Database, path: string, from: 'plain' | 'encrypted', key: EncryptionKey | null): void {
  if (db.inTransaction) throw new SyncError('invalid_input', 'rekey cannot run inside a transaction');
  db.pragma('wal_checkpoint(TRUNCATE)');
  const mode = db.pragma('journal_mode = DELETE', { simple: true });
  if (mode !== 'delete') {
    throw new SyncError('locked', `rekey needs the only connection to ${path}; another one keeps it in WAL mode`);
  }
  writeDurably(markerPath(path), JSON.stringify({ from } satisfies RekeyMarker));
  const bytes = key === null ? Buffer.alloc(0) : cipherKey(key);
  try {
    if (from === 'plain') db.pragma(`cipher = '${CIPHER}'`);
    db.rekey(bytes);
    if (key !== null) db.pragma('temp_store = MEMORY');
  } catch (err) {
    throw new SyncError('database', `rekey of ${path} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    bytes.fill(0);
    // Committed or rolled back: the file is whole in one form, and WAL mode returns.
    db.pragma('journal_mode = WAL');
    forgetInterruptedRekey(path);
  }
}
