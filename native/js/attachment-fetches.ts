/**
 * sync_engine_fetch_attachment's contract, on top of the engine's fetchAttachment (a promise that
 * settles when the bytes are here or cannot come): a refusal before any download starts (the
 * engine is not connected) is the C call's own answer; after that the C caller learns the outcome
 * from exactly one AttachmentCompleted or AttachmentFailed event per call. Usually that is the
 * engine's own event of the download; when the engine has none to give — the bytes were here
 * already, or the connection dropped mid-way, which the engine tells only the promise — one is
 * reported here, with the reference the engine gives an attachment it knows nothing about (the
 * length it knows, the default content type), as it does for its own failures. A fetch the
 * engine's closing ended reports nothing: its engine is gone.
 */
import { attachmentRef, type AttachmentRef } from '@json-sync/core';
import type { SyncEngine } from '../../client-ts/src/engine.js';
import { EventType, type SyncEvent } from '../../client-ts/src/events.js';

/** How an outcome event the engine did not give reaches the C side. */
export type ReportOutcome = (type: EventType.AttachmentCompleted | EventType.AttachmentFailed, reference: AttachmentRef, numeric: number, error: string | null) => void;

interface Watch {
  reported: boolean;
}

export class AttachmentFetches {
  /** The fetches of each attachment id not settled yet, each noting whether the engine reported its download's outcome. */
  private readonly watching = new Map<string, Watch[]>();

  constructor(
    private readonly engine: SyncEngine,
    private readonly report: ReportOutcome,
  ) {}

  /** Every event of the engine, as it emits them (before the promises of the download settle). */
  seen(e: SyncEvent): void {
    if ((e.type !== EventType.AttachmentCompleted && e.type !== EventType.AttachmentFailed) || e.booleanData) return;
    const id = (e.content as unknown as AttachmentRef | null)?.$attachment;
    for (const w of (id && this.watching.get(id)) || []) w.reported = true;
  }

  /** Starts fetching `id`; rejects only when the engine refused at once. */
  async start(id: string): Promise<void> {
    const watch: Watch = { reported: false };
    this.watching.set(id, [...(this.watching.get(id) ?? []), watch]);
    const outcome = this.engine.fetchAttachment(id).then(
      () => null,
      (err: Error) => err,
    );
    const pending = Symbol('pending');
    const early = await Promise.race([outcome, new Promise<typeof pending>((resolve) => setImmediate(() => resolve(pending)))]);
    if (early instanceof Error) {
      this.forget(id, watch);
      throw early;
    }
    void outcome.then((err) => {
      this.forget(id, watch);
      if (watch.reported || (err as { code?: string } | null)?.code === 'closed') return;
      const length = this.engine.attachmentState(id)?.length ?? 0;
      if (err) this.report(EventType.AttachmentFailed, attachmentRef(id, length), 0, err.message);
      else this.report(EventType.AttachmentCompleted, attachmentRef(id, length), length, null);
    });
  }

  private forget(id: string, watch: Watch): void {
    const left = (this.watching.get(id) ?? []).filter((w) => w !== watch);
    if (left.length > 0) this.watching.set(id, left);
    else this.watching.delete(id);
  }
}
