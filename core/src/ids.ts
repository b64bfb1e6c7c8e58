import { randomFillSync, randomUUID } from 'node:crypto';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a lowercase canonical UUID (8-4-4-4-12 hex digits). Upper case is refused, not folded. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** A random (version 4) UUID: for identifiers whose order must tell nothing. */
export function newUuid(): string {
  return randomUUID();
}

// Random bits for time-ordered ids, drawn 4 KiB at a time: one getrandom call per 512 ids.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
let lastMs = 0;
let counter = 0;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A time-ordered (version 7, RFC 9562) UUID: 48 bits of Unix milliseconds, then a 12-bit counter
 * that keeps ids made in one millisecond in order (method 1 of RFC 9562 §6.2), then 62 random
 * bits. Document ids are made this way so that a device's inserts land at the right edge of its
 * SQLite B-trees and the server's indexes instead of on a random page each: a batch of random v4
 * ids dirtied one page per row per index (about 13 KB of WAL per created document, against
 * 1.3 KB in order). The id tells when the document was made, which its created_at says anyway.
 */
export function newTimeOrderedUuid(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    counter = 0;
  } else if (++counter > 0xfff) {
    // More than 4,096 ids in one millisecond (or a clock that stepped back): borrow the next one.
    lastMs++;
    counter = 0;
  }
  ms = lastMs;
  if (poolAt + 8 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const r = poolAt;
  poolAt += 8;
  const hi = Math.floor(ms / 0x10000);
  const lo = ms % 0x10000;
  return (
    hex32(hi) +
    '-' +
    HEX[lo >>> 8] +
    HEX[lo & 0xff] +
    '-' +
    HEX[0x70 | (counter >>> 8)] +
    HEX[counter & 0xff] +
    '-' +
    HEX[0x80 | (pool[r] & 0x3f)] +
    HEX[pool[r + 1]] +
    '-' +
    HEX[pool[r + 2]] +
    HEX[pool[r + 3]] +
    HEX[pool[r + 4]] +
    HEX[pool[r + 5]] +
    HEX[pool[r + 6]] +
    HEX[pool[r + 7]]
  );
}

function hex32(n: number): string {
  return HEX[(n >>> 24) & 0xff] + HEX[(n >>> 16) & 0xff] + HEX[(n >>> 8) & 0xff] + HEX[n & 0xff];
}
