import type { LocalStore } from '../storage/local-store.js';

/** How far the engine has applied the server's change stream; persisted with the changes it covers. */
export class Cursor {
  private current: number;

  constructor(private readonly store: LocalStore) {
    this.current = Number(store.getState('cursor') ?? 0);
  }

  get value(): number {
    return this.current;
  }

  set(sequence: number): void {
    const before = this.current;
    this.current = sequence;
    this.store.onRollback(() => (this.current = before));
    this.store.beforeCommit(this.persist);
  }

  /** Writes the value the cursor has when its transaction commits: once per slice, not once per change. */
  private readonly persist = () => this.store.setState('cursor', String(this.current));
}
