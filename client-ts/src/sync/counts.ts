import type { Logger } from '../logger.js';
import type { LocalStore, ViewRow } from '../storage/local-store.js';

type Liveness = Pick<ViewRow, 'deleted'> | undefined;

/**
 * The number of live documents, kept in step with every view written (counting them in SQL scans
 * the whole views table), and the listeners told after each commit that may have changed it or the
 * outbox's pending count: the C SDK keeps copies of both that its calls read on their own thread.
 */
export class Counts {
  private live: number;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly store: LocalStore,
    private readonly log: Logger,
  ) {
    this.live = store.countLive();
  }

  get documents(): number {
    return this.live;
  }

  /** A document's view went from `before` to `after` (undefined: no row) in the current transaction. */
  viewWritten(before: Liveness, after: Liveness): void {
    const change = (after?.deleted === 0 ? 1 : 0) - (before?.deleted === 0 ? 1 : 0);
    if (change === 0) return;
    this.live += change;
    this.store.onRollback(() => (this.live -= change));
  }

  onCommitted(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A transaction that may have changed the counts committed; called before its events are delivered. */
  committed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.log.error(`counts listener threw: ${(err as Error).message}`);
      }
    }
  }
}
