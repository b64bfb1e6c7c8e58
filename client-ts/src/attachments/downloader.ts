import { MAX_OPEN_DOWNLOADS, type AttachmentFrame, type ServerMessageOf } from '@json-sync/core';
import type { AttachmentRow, AttachmentStore } from './store.js';
import type { AttachmentWire } from './wire.js';

/** What a server message or frame meant for a download: the caller reports it and starts the next. */
export type DownloadOutcome =
  | { kind: 'none' }
  | { kind: 'progress'; row: AttachmentRow; bytes: number }
  /** Every byte is stored: the caller checks the digest before the bytes become readable. */
  | { kind: 'received'; row: AttachmentRow }
  | { kind: 'failed'; id: string; code: string; error: string }
  /** The bytes were added here meanwhile (complete, a row of their own): the download was dropped. */
  | { kind: 'superseded'; id: string };

const NONE: DownloadOutcome = { kind: 'none' };

interface Open {
  id: string;
  requestId: string;
  /** The partial row being written; null until download_ready. */
  row: AttachmentRow | null;
}

/**
 * Downloads wanted attachments, up to MAX_OPEN_DOWNLOADS at a time (small ones then wait for a
 * fraction of the round trips; the server sends each one's frames as its buffer has room), in the order asked (docs/protocol.md,
 * Attachments, Download): from the bytes already stored, so an interrupted download goes on where
 * it stopped. Each frame is written in a transaction of its own with the count received.
 */
export class Downloader {
  private queue: string[] = [];
  /** By attachment id. */
  private readonly open = new Map<string, Open>();
  private requests = 0;

  constructor(
    private readonly store: AttachmentStore,
    private readonly wire: AttachmentWire,
  ) {}

  /** Whether `id` is queued or on its way. */
  has(id: string): boolean {
    return this.open.has(id) || this.queue.includes(id);
  }

  want(id: string): void {
    if (!this.has(id)) this.queue.push(id);
  }

  /** The connection ended: the ids queued and in flight, for their waiters to be told. What was stored stays. */
  reset(): string[] {
    const dropped = [...this.open.keys(), ...this.queue];
    this.open.clear();
    this.queue = [];
    return dropped;
  }

  /** Starts the next wanted downloads while fewer than MAX_OPEN_DOWNLOADS are open and the connection is live. */
  start(): void {
    while (this.open.size < MAX_OPEN_DOWNLOADS && this.wire.live) {
      const id = this.queue.shift();
      if (id === undefined) return;
      const requestId = `att-d-${++this.requests}`;
      this.open.set(id, { id, requestId, row: null });
      const row = this.store.get(id);
      const offset = row?.state === 'partial' ? row.received : 0;
      this.wire.send({ type: 'download_attachment', attachment: id, offset, request_id: requestId });
    }
  }

  onReady(m: ServerMessageOf<'download_ready'>): DownloadOutcome {
    const c = this.byRequest(m.request_id);
    if (!c) return NONE;
    const row = this.store.get(c.id);
    if (row?.state === 'partial' && row.length === m.length && row.received === m.offset) {
      c.row = row;
    } else if (m.offset === 0) {
      c.row = this.store.beginDownload(c.id, m.length, m.content_type);
    } else {
      // What is stored does not continue where the server starts: ask for everything.
      this.open.delete(c.id);
      this.queue.unshift(c.id);
      if (row && row.state !== 'complete') this.store.remove(row);
      this.start();
      return NONE;
    }
    return c.row.length === 0 ? this.received(c) : NONE;
  }

  onFrame(f: AttachmentFrame): DownloadOutcome {
    const c = this.open.get(f.attachment);
    const row = c?.row;
    // Frames of a request given up (another offset, a superseded request) are not ours to store.
    if (!c || !row || f.offset !== row.received || f.offset + f.bytes.length > row.length) return NONE;
    if (this.store.get(row.id)?.blob !== row.blob) {
      this.open.delete(c.id);
      return { kind: 'superseded', id: row.id };
    }
    this.store.appendDownloaded(row, f.offset, f.bytes);
    row.received += f.bytes.length;
    return { kind: 'progress', row, bytes: row.received };
  }

  onComplete(m: ServerMessageOf<'download_complete'>): DownloadOutcome {
    const c = this.byRequest(m.request_id);
    if (!c || !c.row) return NONE;
    if (c.row.received !== c.row.length) {
      this.open.delete(c.id);
      return { kind: 'failed', id: c.id, code: 'connection', error: `the server ended the download at ${c.row.received} of ${c.row.length} bytes` };
    }
    return this.received(c);
  }

  onError(m: ServerMessageOf<'error'>): DownloadOutcome {
    const c = this.byRequest(m.request_id);
    if (!c) return NONE;
    this.open.delete(c.id);
    if (m.code === 'invalid_chunk') {
      // The server refused our offset: what we kept cannot be continued.
      const row = this.store.get(c.id);
      if (row && row.state === 'partial') this.store.remove(row);
    }
    return { kind: 'failed', id: c.id, code: m.code, error: `${m.code}: ${m.message}` };
  }

  private byRequest(requestId: string | undefined): Open | undefined {
    for (const c of this.open.values()) if (c.requestId === requestId) return c;
    return undefined;
  }

  private received(c: Open): DownloadOutcome {
    this.open.delete(c.id);
    return { kind: 'received', row: c.row! };
  }
}
