import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { attachmentIdOfDigest, type AttachmentRef } from '@json-sync/core';
import type { SyncEngine } from '../engine.js';
import { EventType, type SyncEvent } from '../events.js';
import { nextEvent } from './harness.js';

const MB = 1024 * 1024;

/** Writes a file of `size` random bytes a few MB at a time (never whole in memory); returns its attachment id. */
export async function randomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let at = 0; at < size; at += 4 * MB) {
    const piece = randomBytes(Math.min(4 * MB, size - at));
    hash.update(piece);
    if (!out.write(piece)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return attachmentIdOfDigest(hash.digest());
}

/** The attachment id of a file's bytes, hashed as it is read. */
export async function fileAttachmentId(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return attachmentIdOfDigest(hash.digest());
}

/** Resolves with the event that reports the upload of `id` done. */
export function uploaded(e: SyncEngine, id: string, timeoutMs = 60_000): Promise<SyncEvent> {
  return nextEvent(e, EventType.AttachmentCompleted, (ev) => ev.booleanData && (ev.content as AttachmentRef | null)?.$attachment === id, timeoutMs);
}
