import { ProtocolError, type Limits, type MutationMessage, type ServerMessageOf } from '@json-sync/core';
import type { Database, Queryable } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { applyMutation, type MutationOutcome } from './apply.js';
import { BatchRaceError, BatchStore } from './store.js';

export type BatchResult = MutationOutcome | { kind: 'error'; reply: ServerMessageOf<'error'> };

export interface PendingMutation {
  userId: string;
  clientId: string;
  message: MutationMessage;
  /** Called once, after the batch committed (or failed as a whole). */
  done(result: BatchResult): void;
}

/** A user's sequences committed by one batch: pushed to the user's connections on other processes. */
export interface CommittedRange {
  userId: string;
  from: number;
  to: number;
}

export const NOTIFY_CHANNEL = 'sync_changes';
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
export const MAX_NOTIFY_BYTES = 7900;
const MAX_BATCH = 512;
/** Batches committing at once, on different pool connections, over disjoint sets of users. */
const MAX_CONCURRENT_FLUSHES = 4;

/**
 * Commits mutations from every connection in batches: one transaction per flush, and a flush
 * starts as soon as a slot is free (no timer). Concurrent flushes never share a user, and a user's
 * mutations are taken in arrival order, so one connection's mutations apply in the order sent.
 */
export class MutationBatcher {
  private queue: PendingMutation[] = [];
  private readonly busyUsers = new Set<string>();
  private flushing = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly db: Database,
    private readonly limits: Limits,
    private readonly serverId: string,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  submit(item: PendingMutation): void {
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
      const users = new Set(batch.map((b) => b.userId));
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
  private takeBatch(): PendingMutation[] {
    const batch: PendingMutation[] = [];
    const rest: PendingMutation[] = [];
    for (const item of this.queue) {
      if (batch.length < MAX_BATCH && !this.busyUsers.has(item.userId)) batch.push(item);
      else rest.push(item);
    }
    this.queue = rest;
    return batch;
  }

  private async flush(batch: PendingMutation[]): Promise<void> {
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
    for (const r of results) {
      if (r.kind === 'applied') this.metrics.changesCommitted.inc();
      else if (r.kind === 'conflict') this.metrics.conflicts.inc();
      if (r.kind === 'applied' && r.reply.type === 'document_updated_response' && r.reply.merged) this.metrics.merges.inc();
    }
    batch.forEach((item, i) => item.done(results[i]!));
  }

  /**
   * Fast path: the whole batch computed over rows read in one query and written in one statement.
   * If that write fails (another user's create of the same id committed meanwhile, or anything
   * unexpected), the transaction rolls back and the batch runs again one mutation at a time, each
   * under its own savepoint, so one failure does not sink the others.
   */
  private async commit(batch: PendingMutation[]): Promise<BatchResult[]> {
    try {
      return await this.db.transaction(async (tx) => {
        const { start, now } = await lockUsers(tx, batch);
        const store = await BatchStore.load(tx, batch, now);
        const { results, last } = this.applyAll(store, batch, start);
        await store.flush(tx, this.finish(start, last));
        return results;
      });
    } catch (err) {
      if (!(err instanceof BatchRaceError)) this.log.warn({ err: (err as Error).message }, 'bulk write failed; retrying the batch one mutation at a time');
      return this.db.transaction((tx) => this.runOneByOne(tx, batch));
    }
  }

  private async runOneByOne(tx: Queryable, batch: PendingMutation[]): Promise<BatchResult[]> {
    const { start, now } = await lockUsers(tx, batch);
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
  private finish(start: Map<string, number>, last: Map<string, number>) {
    const ranges: CommittedRange[] = [];
    for (const [userId, to] of last) {
      const from = start.get(userId)! + 1;
      if (to >= from) ranges.push({ userId, from, to });
    }
    return {
      lastSequences: ranges.map((r) => ({ id: r.userId, seq: r.to })),
      notify: ranges.length > 0 ? notifyPayloads(this.serverId, ranges) : [],
      channel: NOTIFY_CHANNEL,
    };
  }

  /** Applies mutations in order; one that fails is rolled back in the store and answered with its error. */
  private applyAll(store: BatchStore, batch: PendingMutation[], start: Map<string, number>): { results: BatchResult[]; last: Map<string, number> } {
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
        results.push(
          applyMutation(
            store,
            {
              userId: item.userId,
              clientId: item.clientId,
              limits: this.limits,
              nextSequence: () => {
                const next = last.get(item.userId)! + 1;
                last.set(item.userId, next);
                return next;
              },
            },
            item.message,
          ),
        );
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

/** Locks every user of the batch in one fixed order (so concurrent batches anywhere cannot deadlock) and reads their counters. */
async function lockUsers(tx: Queryable, batch: PendingMutation[]): Promise<{ start: Map<string, number>; now: Date }> {
  const userIds = [...new Set(batch.map((b) => b.userId))].sort();
  const locked = await tx.query<{ id: string; last_sequence: number; now: Date }>(
    'SELECT id, last_sequence, now() AS now FROM users WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY id FOR UPDATE',
    [JSON.stringify(userIds)],
  );
  return { start: new Map(locked.rows.map((r) => [r.id, r.last_sequence])), now: locked.rows[0]?.now ?? new Date() };
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

/** Notification payloads carry only ids and sequence ranges, split to stay under PostgreSQL's 8000-byte cap. */
export function notifyPayloads(serverId: string, ranges: CommittedRange[]): string[] {
  const head = `{"s":${JSON.stringify(serverId)},"r":[`;
  const out: string[] = [];
  let entries: string[] = [];
  let bytes = head.length + 2;
  for (const r of ranges) {
    const entry = JSON.stringify([r.userId, r.from, r.to]);
    if (entries.length > 0 && bytes + entry.length + 1 > MAX_NOTIFY_BYTES) {
      out.push(`${head}${entries.join(',')}]}`);
      entries = [];
      bytes = head.length + 2;
    }
    entries.push(entry);
    bytes += entry.length + 1;
  }
  if (entries.length > 0) out.push(`${head}${entries.join(',')}]}`);
  return out;
}
