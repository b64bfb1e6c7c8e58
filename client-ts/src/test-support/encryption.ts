import { existsSync, readFileSync } from 'node:fs';
import type { EncryptionKey } from '../storage/encryption.js';

/**
 * SYNC_TEST_ENCRYPTION=1 runs the suites on encrypted databases: every engine and store the shared
 * helpers open gets this key unless the test passes one of its own (or null). A passphrase, not
 * bytes: tests hand their options to child processes as JSON, and a string survives that (the
 * passphrase's KDF then runs at every open, which the suites also cover that way). The C suites
 * use 32 raw bytes (native/tests/harness.c).
 */
export const SUITE_KEY = 'json-sync test suites, encrypted run';

export function suiteEncryption(): { encryptionKey?: EncryptionKey } {
  return process.env.SYNC_TEST_ENCRYPTION === '1' ? { encryptionKey: SUITE_KEY } : {};
}

/** The database's files, each with whether its raw bytes hold `text` (UTF-8); missing files are left out. */
export function filesHolding(dbPath: string, text: string): { file: string; holds: boolean }[] {
  const needle = Buffer.from(text, 'utf8');
  return ['', '-wal', '-shm', '-journal']
    .map((suffix) => dbPath + suffix)
    .filter((file) => existsSync(file))
    .map((file) => ({ file, holds: readFileSync(file).includes(needle) }));
}
