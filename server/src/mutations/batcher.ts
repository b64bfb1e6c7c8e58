import { ProtocolError, type Limits, type MutationMessage, type ServerMessageOf } from '@json-sync/core';
import type { Database, Queryable } from '../db/database.js';
import { uuidArrayLiteral } from '../db/sql.js';
import { encodeNotifications, notifyAfterCommitSql, NOTIFY_CHANNEL, type CommittedRange } from '../notify.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { applyMutation, type MutationOutcome } from './apply.js';
import { BatchRaceError, BatchStore, isIdTaken, type BatchFinish } from './store.js';

export type BatchResult = MutationOutcome | { kind: 'error'; reply: ServerMessageOf<'error'> };

export interface PendingMutation<O = unknown> {
  userId: string;
  clientId: string;
  message: MutationMessage;
  /** Length of the frame it arrived in: batches are bounded by bytes as well as by count. */
  bytes: number;
  /** Whoever submitted it, handed back with its result. */
  owner: O;
}

/** Called once per mutation, after its batch committed (or failed as a whole). */
export type Answer<O> = (item: PendingMutation<O>, result: BatchResult) => void;

const MAX_BATCH = 1024;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Batches committing at once, on different pool connections, over disjoint sets of users. Two: one
 * batch is built and sent while the other waits for its WAL flush. Each batch costs the database a
 * fixed few hundred µs of CPU whatever its size, so more at once only splits the queue into smaller
 * batches: with four, 64 clients made batches of 8–9 and PostgreSQL spent ~25% more CPU per update
 * for no more throughput (README, Benchmarks: where the database's time goes).
 */
const MAX_CONCURRENT_FLUSHES = 2;

/**
 * Commits mutations from every connection in batches: one transaction per flush, in two round
 * trips (BEGIN + lock + read, then write + NOTIFY + COMMIT), and a flush starts as soon as a slot
 * is free (no timer) with everything queued, so batches grow with load. Concurrent flushes never
 * share a user, and a user's mutations are taken in arrival order, so one connection's mutations
 * apply in the order sent.
 */
export class MutationBatcher<O = unknown> {
  private queue: PendingMutation<O>[] = [];
  private readonly busyUsers = new Set<string>();
  private flushing = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly db: Database,
    private readonly limits: Limits,
    private readonly serverId: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly answer: Answer<O>,
  ) {}

  submit(item: PendingMutation<O>): void {
    this.queue.push(item);
    this.startFlushes();
  }

  /** Resolves once everything submitted so far (and anything submitted meanwhile) is committed and answered. */
  drain(): Promise<void> {
    if (this.flushing === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private startFlushes(): void {
    while (this.flushing < MAX_CONCURRENT_FLUSHES && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      const users = new Set<string>();
      for (const b of batch) users.add(b.userId);
      for (const u of users) this.busyUsers.add(u);
      this.flushing++;
      void this.flush(batch).finally(() => {
        for (const u of users) this.busyUsers.delete(u);
        this.flushing--;
        this.startFlushes();
        if (this.flushing === 0 && this.queue.length === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  /** Oldest-first items of users no other flush holds; a user's later items never pass its earlier ones. */
  private takeBatch(): PendingMutation<O>[] {
    const batch: PendingMutation<O>[] = [];
    const rest: PendingMutation<O>[] = [];
    // A user left out (busy, or the batch full) keeps all its later items out too, preserving their order.
    const held = new Set<string>();
    let bytes = 0;
    for (const item of this.queue) {
      const fits = batch.length < MAX_BATCH && (batch.length === 0 || bytes + item.bytes <= MAX_BATCH_BYTES);
      if (fits && !this.busyUsers.has(item.userId) && !held.has(item.userId)) {
        batch.push(item);
        bytes += item.bytes;
      } else {
        held.add(item.userId);
        rest.push(item);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async flush(batch: PendingMutation<O>[]): Promise<void> {
    const started = process.hrtime.bigint();
    let results: BatchResult[];
    try {
      results = await this.commit(batch);
      this.metrics.batchSize.observe(batch.length);
      this.metrics.batchSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    } catch (err) {
      this.log.error({ err: (err as Error).message, size: batch.length }, 'batch failed; every mutation in it is answered server_error');
      results = batch.map((item) => ({
        kind: 'error',
        reply: { type: 'error', code: 'server_error', message: 'the change could not be committed; retry it', mutation_id: item.message.mutation_id },
      }));
    }
    let committed = 0;
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      if (r.kind === 'applied') {
        committed++;
        if (r.merged) this.metrics.merges.inc();
      } else if (r.kind === 'conflict') this.metrics.conflicts.inc();
      this.answer(batch[i]!, r);
    }
    if (committed > 0) this.metrics.changesCommitted.inc(committed);
  }

  /**
   * Fast path: the whole batch in two round trips — BEGIN, the users' locks and every row it reads
   * in one; its writes, COMMIT and NOTIFY in the other. If the write fails (another user's create
   * of the same id committed meanwhile, or anything unexpected), the transaction rolls back and the
   * batch runs again one mutation at a time, each under its own savepoint, so one failure does not
   * sink the others.
   */
  private async commit(batch: PendingMutation<O>[]): Promise<BatchResult[]> {
    try {
      return await this.db.session(async (s) => {
        // Read after the lock, in a statement of its own: under READ COMMITTED it then sees every
        // change committed by whoever held the lock before us.
        const [, locked, loaded] = await s.script(`BEGIN; ${lockSql(batch)}; ${BatchStore.loadSql(batch)}`);
        const { start, now } = lockedCounters(locked!.rows);
        const store = BatchStore.fromRow(loaded!.rows[0], batch, now);
        const { results, last } = this.applyAll(store, batch, start);
        const finish = this.finish(start, last);
        await s.script(`${store.writeSql(finish.lastSequences)}; COMMIT${notifyAfterCommitSql(finish.channel, finish.notify)}`);
        return results;
      });
    } catch (err) {
      if (!isIdTaken(err)) this.log.warn({ err: (err as Error).message }, 'bulk write failed; retrying the batch one mutation at a time');
      return this.db.transaction((tx) => this.runOneByOne(tx, batch));
    }
  }

  private async runOneByOne(tx: Queryable, batch: PendingMutation<O>[]): Promise<BatchResult[]> {
    const { start, now } = lockedCounters((await tx.query<LockedRow>(lockSql(batch))).rows);
    const last = new Map(start);
    const results: BatchResult[] = [];
    for (const item of batch) {
      const before = new Map(last);
      await tx.query('SAVEPOINT mutation');
      try {
        const store = await BatchStore.load(tx, [item], now);
        const one = this.applyAll(store, [item], last);
        await store.flush(tx);
        await tx.query('RELEASE SAVEPOINT mutation');
        results.push(one.results[0]!);
        for (const [k, v] of one.last) last.set(k, v);
      } catch (err) {
        await tx.query('ROLLBACK TO SAVEPOINT mutation');
        for (const [k, v] of before) last.set(k, v);
        if (!(err instanceof ProtocolError) && !(err instanceof BatchRaceError)) this.log.error({ err: (err as Error).message }, 'mutation failed unexpectedly');
        results.push(errorResult(item, err instanceof BatchRaceError ? new ProtocolError('document_exists', 'document already exists') : err));
      }
    }
    await BatchStore.empty(now).flush(tx, this.finish(start, last));
    return results;
  }

  /** The users' new last sequences and the NOTIFY payloads announcing them to other processes. */
  private finish(start: Map<string, number>, last: Map<string, number>): BatchFinish {
    const ranges: CommittedRange[] = [];
    for (const [userId, to] of last) {
      const from = start.get(userId)! + 1;
      if (to >= from) ranges.push({ userId, from, to });
    }
    return {
      lastSequences: ranges.map((r) => ({ id: r.userId, seq: r.to })),
      notify: ranges.length > 0 ? encodeNotifications(this.serverId, ranges) : [],
      channel: NOTIFY_CHANNEL,
    };
  }

  /** Applies mutations in order; one that fails is rolled back in the store and answered with its error. */
  private applyAll(store: BatchStore, batch: PendingMutation<O>[], start: Map<string, number>): { results: BatchResult[]; last: Map<string, number> } {
    const last = new Map(start);
    const results: BatchResult[] = [];
    for (const item of batch) {
      const before = last.get(item.userId);
      if (before === undefined) {
        results.push(errorResult(item, new Error(`user ${item.userId} vanished`)));
        continue;
      }
      const mark = store.mark();
      try {
        results.push(applyMutation(store, { userId: item.userId, clientId: item.clientId, limits: this.limits, sequences: last }, item.message));
      } catch (err) {
        store.rollbackTo(mark);
        last.set(item.userId, before);
        if (!(err instanceof ProtocolError)) this.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'mutation failed unexpectedly');
        results.push(errorResult(item, err));
      }
    }
    return { results, last };
  }
}

interface LockedRow {
  id: string;
  last_sequence: number;
  now: Date;
}

/** Locks every user of the batch in one fixed order (so concurrent batches anywhere cannot deadlock) and reads their counters. */
function lockSql(batch: PendingMutation[]): string {
  return `SELECT * FROM sync_lock_users(${uuidArrayLiteral([...new Set(batch.map((b) => b.userId))])})`;
}

function lockedCounters(rows: LockedRow[]): { start: Map<string, number>; now: Date } {
  return { start: new Map(rows.map((r) => [r.id, r.last_sequence])), now: rows[0]?.now ?? new Date() };
}

function errorResult(item: PendingMutation, err: unknown): BatchResult {
  const known = err instanceof ProtocolError;
  return {
    kind: 'error',
    reply: {
      type: 'error',
      code: known ? err.code : 'server_error',
      message: known ? err.message : 'internal error',
      mutation_id: item.message.mutation_id,
    },
  };
}
