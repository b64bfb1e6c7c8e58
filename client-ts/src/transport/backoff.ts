export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

/**
 * Reconnect delays. Connection failures use exponential backoff with full jitter (a random delay
 * up to min(maxMs, minMs·2^n)), so many clients of a restarted server spread out. A refused
 * authentication will not fix itself quickly, so it waits at least 60% of maxMs: with maxMs 1000
 * that is at most 10 attempts in 5 s.
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  reset(): void {
    this.failures = 0;
  }

  nextDelay(kind: 'connection' | 'auth'): number {
    this.failures++;
    const { minMs, maxMs } = this.opts;
    if (kind === 'auth') return Math.round(maxMs * (0.6 + 0.4 * this.random()));
    const cap = Math.min(maxMs, minMs * 2 ** Math.min(this.failures - 1, 30));
    return Math.round(cap * this.random());
  }
}
