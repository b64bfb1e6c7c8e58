/** What the budget needs of a connection: how much it holds queued, and a way to cut it off. */
export interface QueueHolder {
  readonly queuedBytes: number;
  end(code: number, reason: string): void;
}

/**
 * One budget for the bytes every connection of the process holds queued for a socket that is not
 * reading (each connection also has its own cap). Past the budget the connections holding the
 * most — the slowest readers — are closed with 1008 until the total is back under three quarters
 * of it, so a crowd of stalled clients cannot take the process's memory, and the clients that do
 * read are never the ones cut off.
 */
export class OutboundBudget {
  private total = 0;
  private readonly holders = new Set<QueueHolder>();

  constructor(readonly limitBytes: number) {}

  get queuedBytes(): number {
    return this.total;
  }

  /** `holder` queued `bytes` more (negative: it sent or dropped them). */
  change(holder: QueueHolder, bytes: number): void {
    this.total += bytes;
    if (holder.queuedBytes > 0) this.holders.add(holder);
    else this.holders.delete(holder);
    if (bytes > 0 && this.total > this.limitBytes) this.shed();
  }

  private shed(): void {
    const slowest = [...this.holders].sort((a, b) => b.queuedBytes - a.queuedBytes);
    for (const holder of slowest) {
      if (this.total <= this.limitBytes * 0.75) return;
      // end() gives the holder's bytes back through change().
      holder.end(1008, 'client too slow');
    }
  }
}
