/**
 * What the fault cases share beyond the project's fixtures (@json-sync/test-support,
 * client-ts/src/test-support): the short/long switch, a seeded generator, waiting helpers, the
 * server-process watch and a private PostgreSQL cluster the outage case can stop and start.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import type { ServerMessage } from '@json-sync/core';
import { mulberry32, type ServerProcess, type SqlPool, type TestClient } from '@json-sync/test-support';

/** FAULTS_LONG=1 (npm run test:faults) selects the long form of every case. */
export const LONG = process.env.FAULTS_LONG === '1';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The seed of this run: FAULTS_SEED replays one, otherwise a fresh one (always printed by the caller). */
export function runSeed(): number {
  const env = process.env.FAULTS_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FAULTS_SEED must be an integer in 0..2^32-1, got ${env}`);
    return n;
  }
  return randomBytes(4).readUInt32LE(0);
}

/** A small, fast, seeded generator (mulberry32): the same seed gives the same run. */
export class Rng {
  /** Uniform in [0, 1). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** A lowercase canonical v4 UUID drawn from this generator (reproducible, unlike randomUUID). */
  uuid(): string {
    const h = Array.from({ length: 32 }, () => this.int(0, 15).toString(16));
    h[12] = '4';
    h[16] = ((this.int(0, 15) & 0x3) | 0x8).toString(16);
    const s = h.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }
}

/** Polls `cond` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Resolves with `p`, or rejects naming `what` after `ms`. */
export function within<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** Status code of GET `${httpUrl}/health` (0 when the request itself fails). */
export async function health(httpUrl: string, timeoutMs = 5000): Promise<number> {
  try {
    const r = await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/** The last `n` characters of a process's stderr, for assertion messages. */
export function tail(text: string, n = 2000): string {
  return text.length <= n ? text : `…${text.slice(-n)}`;
}

/** Records whether a server process exits while the test still expects it to run (a crash). */
export function watchExit(server: ServerProcess): { exit: () => { code: number | null; signal: NodeJS.Signals | null } | null } {
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  server.child.once('exit', (code, signal) => (exit = { code, signal }));
  return { exit: () => exit };
}

/** A port the OS considers free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PrivateCluster {
  dir: string;
  port: number;
  /** Connection string to its `postgres` database (for `startTestServer({ databaseServerUrl })`). */
  url: string;
  running(): boolean;
  start(): Promise<void>;
  /** `pg_ctl stop -m fast` by default: backends are terminated (57P01), open transactions roll back. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Stops it (immediate) if it runs and removes its directory. Safe to call more than once. */
  remove(): void;
  /** SIGKILL to the postmaster: a crash, nothing flushed or said to anyone. */
  kill(): void;
  /** `pg_ctl promote`: a standby becomes a primary (waits until it accepts writes). */
  promote(): Promise<void>;
  /** Runs one of PostgreSQL's programs as the cluster's owner. */
  run(bin: string, args: string[]): Promise<void>;
}

export interface ClusterOptions {
  /**
   * Makes the data directory (given its path) instead of initdb: a standby cloned by
   * `pg_basebackup -R` from another cluster. `run` runs a PostgreSQL program as the owner.
   */
  init?: (data: string, run: PrivateCluster['run']) => Promise<void>;
}

/**
 * A PostgreSQL cluster of the test's own (`initdb` + `pg_ctl` in a temp directory, trust auth,
 * TCP on a random 127.0.0.1 port, its socket in the directory), so an outage never touches the
 * machine's PostgreSQL service. initdb refuses root: as root, both run as the `postgres` user.
 * The directory is removed by `remove()`, and at process exit or on SIGTERM/SIGINT should the test
 * die before that.
 */
export async function createPrivateCluster(opts: ClusterOptions = {}): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-faults-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const argv = (bin: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]] : [join(PG_BIN, bin), args]);
  const run = (bin: string, args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const [file, list] = argv(bin, args);
      execFile(file, list, { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${bin} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
        else resolve();
      });
    });
  let running = false;
  let removed = false;
  const onSignal = (signal: NodeJS.Signals) => {
    remove();
    process.kill(process.pid, signal);
  };
  const remove = () => {
    if (removed) return;
    removed = true;
    process.off('exit', remove);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (running) {
      // Synchronous, as this also runs at process exit; harmless when it is already stopped.
      const [file, list] = argv('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']);
      spawnSync(file, list, { stdio: 'ignore', timeout: 40_000 });
      running = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Also when the test dies first: at exit, or on the SIGTERM of a runner's timeout (re-raised once removed).
  process.on('exit', remove);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(dir, uid, gid);
    }
    if (opts.init) await opts.init(data, run);
    else await run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    const port = await freePort();
    const cluster: PrivateCluster = {
      dir,
      port,
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      running: () => running,
      async start() {
        // Marked first: a start that fails half-way still gets stopped by remove().
        running = true;
        await run('pg_ctl', ['-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
      },
      async stop(mode = 'fast') {
        await run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
        running = false;
      },
      kill() {
        const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        process.kill(pid, 'SIGKILL');
        running = false;
      },
      promote: () => run('pg_ctl', ['-D', data, '-w', '-t', '30', 'promote']),
      run,
      remove,
    };
    await cluster.start();
    return cluster;
  } catch (err) {
    remove();
    throw err;
  }
}

// ---- mutations on the raw protocol ---------------------------------------------------------------

const MUTATION_REPLIES = new Set(['document_created_response', 'document_updated_response', 'document_deleted_response', 'conflict_detected', 'error']);
const SUCCESS_REPLIES = new Set(['document_created_response', 'document_updated_response', 'document_deleted_response']);

export function isSuccess(m: ServerMessage | null | undefined): boolean {
  return !!m && SUCCESS_REPLIES.has(m.type);
}

export function isServerError(m: ServerMessage | null | undefined): boolean {
  return !!m && m.type === 'error' && m.code === 'server_error';
}

/**
 * Routes a TestClient's mutation replies to the sends that wait for them (by mutation_id, in order
 * for repeated ids), so many mutations can be in flight at once. A send resolves with its reply,
 * or with null when the connection closes first.
 */
export class ReplyRouter {
  private readonly waiting = new Map<string, ((m: ServerMessage | null) => void)[]>();
  closeCode: number | null = null;
  /** Mutation replies nobody waited for (a reply to a mutation that was never sent, or one too many). */
  readonly stray: ServerMessage[] = [];

  constructor(readonly client: TestClient) {
    client.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as ServerMessage;
      // The TestClient records every message too; this traffic is ours, so keep its list short.
      client.received.splice(0);
      const mid = (m as { mutation_id?: string }).mutation_id;
      if (!MUTATION_REPLIES.has(m.type) || !mid) return;
      const list = this.waiting.get(mid);
      const resolve = list?.shift();
      if (list && list.length === 0) this.waiting.delete(mid);
      if (resolve) resolve(m);
      else this.stray.push(m);
    });
    client.ws.on('close', (code) => {
      this.closeCode = code;
      for (const list of this.waiting.values()) for (const resolve of list) resolve(null);
      this.waiting.clear();
    });
  }

  get open(): boolean {
    return this.closeCode === null;
  }

  get pending(): number {
    let n = 0;
    for (const list of this.waiting.values()) n += list.length;
    return n;
  }

  send(msg: Record<string, unknown>): Promise<ServerMessage | null> {
    const mid = msg.mutation_id as string;
    if (!this.open) return Promise.resolve(null);
    const p = new Promise<ServerMessage | null>((resolve) => {
      const list = this.waiting.get(mid) ?? [];
      list.push(resolve);
      this.waiting.set(mid, list);
    });
    this.client.send(msg);
    return p;
  }
}

export interface Mutation {
  mid: string;
  docId: string;
  kind: 'create' | 'update' | 'delete';
  msg: Record<string, unknown>;
}

interface DocState {
  content: Record<string, unknown>;
  created: boolean;
  unsettled: number;
  dead: boolean;
  mutations: number;
}

export interface ExpectedDoc {
  content: Record<string, unknown>;
  revision: number;
  deleted: boolean;
}

/**
 * One writer's stream of valid, non-conflicting mutations on its own documents (creates, updates
 * adding a new key, deletes) and the documents they must produce once each applied exactly once.
 * Updates go only to documents whose create was answered (unless `eager`), deletes only to
 * documents with nothing unanswered, and nothing follows a delete: so retrying failed mutations in
 * any order still gives the same result.
 */
export class Workload {
  readonly mutations: Mutation[] = [];
  private readonly docs = new Map<string, DocState>();
  private readonly byMid = new Map<string, Mutation>();
  private n = 0;

  constructor(
    private readonly rng: Rng,
    readonly label: string,
    private readonly opts: { eager?: boolean; deleteRate?: number } = {},
  ) {}

  next(): Mutation {
    const i = this.n++;
    const mid = this.rng.uuid();
    const live = [...this.docs.entries()].filter(([, d]) => !d.dead && (d.created || this.opts.eager));
    const deletable = live.filter(([, d]) => d.created && d.unsettled === 0);
    let m: Mutation;
    if (deletable.length > 3 && this.rng.chance(this.opts.deleteRate ?? 0.05)) {
      const [docId, d] = this.rng.pick(deletable);
      d.dead = true;
      m = { mid, docId, kind: 'delete', msg: { type: 'delete_document', document_id: docId, mutation_id: mid } };
    } else if (live.length < 3 || this.rng.chance(0.3)) {
      const docId = this.rng.uuid();
      const content = { title: `${this.label} ${i}`, n: i };
      this.docs.set(docId, { content, created: false, unsettled: 0, dead: false, mutations: 0 });
      m = { mid, docId, kind: 'create', msg: { type: 'create_document', document: { id: docId, content }, mutation_id: mid } };
    } else {
      const [docId, d] = this.rng.pick(live);
      d.content = { ...d.content, [`k${i}`]: i };
      m = { mid, docId, kind: 'update', msg: { type: 'update_document', patch: { document_id: docId, patch: [{ op: 'add', path: `/k${i}`, value: i }] }, mutation_id: mid } };
    }
    const d = this.docs.get(m.docId)!;
    d.unsettled++;
    d.mutations++;
    this.mutations.push(m);
    this.byMid.set(mid, m);
    return m;
  }

  /** Its success reply arrived (the first time). */
  settled(mid: string): void {
    const m = this.byMid.get(mid);
    if (!m) throw new Error(`${this.label}: no mutation ${mid}`);
    const d = this.docs.get(m.docId)!;
    d.unsettled--;
    if (m.kind === 'create') d.created = true;
  }

  expectedDocs(): Map<string, ExpectedDoc> {
    return new Map([...this.docs].map(([id, d]) => [id, { content: d.content, revision: d.mutations, deleted: d.dead }]));
  }
}

export interface LogRow {
  user_id: string;
  sequence: number;
  mutation_id: string;
  document_id: string;
  sync_revision: number;
}

/**
 * The change log against the mutations that must be in it: each of `mutationIds` exactly once and
 * nothing else, every user's sequences 1..n without holes, and `users.last_sequence` = n.
 * Returns the log rows by mutation id for further checks.
 */
export async function checkLog(t: Test, db: SqlPool, mutationIds: readonly string[], label = 'log'): Promise<Map<string, LogRow>> {
  const rows = await checkDense(t, db, label);
  const log = new Map(rows.map((r) => [r.mutation_id, r]));
  t.equal(log.size, rows.length, `${label}: no mutation_id in the log twice, even for different users`);
  const expected = new Set(mutationIds);
  t.equal(expected.size, mutationIds.length, `${label}: the test sent ${mutationIds.length} distinct mutation ids`);
  const missing = [...expected].filter((m) => !log.has(m));
  const extra = [...log.keys()].filter((m) => !expected.has(m));
  t.same({ missing: missing.slice(0, 5), extra: extra.slice(0, 5) }, { missing: [], extra: [] }, `${label}: every one of the ${expected.size} mutations is in the log, and nothing else (${missing.length} missing, ${extra.length} extra)`);
  return log;
}

/**
 * The change log on its own: no (user, mutation_id) twice, every user's sequences 1..n without
 * holes, and `users.last_sequence` = n. Returns its rows, ordered by user and sequence.
 */
export async function checkDense(t: Test, db: SqlPool, label = 'log'): Promise<LogRow[]> {
  const counts = await db.query<{ user_id: string; mutation_id: string; n: number }>(
    'SELECT user_id::text AS user_id, mutation_id::text AS mutation_id, count(*)::int AS n FROM change_events GROUP BY 1, 2',
  );
  const dupes = counts.rows.filter((r) => r.n !== 1);
  t.same(dupes, [], `${label}: no mutation applied twice: each (user, mutation_id) once in change_events (${counts.rows.length} changes)`);
  const rows = await db.query<LogRow>(
    'SELECT user_id::text AS user_id, sequence::int AS sequence, mutation_id::text AS mutation_id, document_id::text AS document_id, sync_revision FROM change_events ORDER BY user_id, sequence',
  );
  const users = await db.query<{ id: string; last_sequence: number }>('SELECT id::text AS id, last_sequence::int AS last_sequence FROM users ORDER BY id');
  const perUser = new Map<string, number[]>();
  for (const r of rows.rows) perUser.set(r.user_id, [...(perUser.get(r.user_id) ?? []), r.sequence]);
  const holes = users.rows
    .map((u) => {
      const seqs = perUser.get(u.id) ?? [];
      const dense = seqs.every((s, i) => s === i + 1);
      return { user: u.id, events: seqs.length, last_sequence: u.last_sequence, dense };
    })
    .filter((u) => !u.dense || u.events !== u.last_sequence);
  t.same(holes, [], `${label}: every user's sequences are 1..n without holes and users.last_sequence = n (${users.rows.length} users)`);
  return rows.rows;
}

/** The documents table against what the workloads must have produced. */
export async function checkDocs(t: Test, db: SqlPool, expected: Map<string, ExpectedDoc>, label = 'documents'): Promise<void> {
  const r = await db.query<{ id: string; content: Record<string, unknown>; sync_revision: number; deleted: boolean }>(
    'SELECT id::text AS id, content, sync_revision, deleted_at IS NOT NULL AS deleted FROM documents WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)',
    [JSON.stringify([...expected.keys()])],
  );
  const actual = new Map(r.rows.map((row) => [row.id, { content: row.content, revision: row.sync_revision, deleted: row.deleted }]));
  const wrong = [...expected]
    .filter(([id, want]) => {
      const got = actual.get(id);
      return !got || got.revision !== want.revision || got.deleted !== want.deleted || JSON.stringify(sortKeys(got.content)) !== JSON.stringify(sortKeys(want.content));
    })
    .map(([id, want]) => ({ id, want, got: actual.get(id) ?? null }));
  t.same(wrong.slice(0, 5), [], `${label}: all ${expected.size} documents hold exactly the content, revision and deletion their mutations give (${wrong.length} differ)`);
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

/** One connection's writer: its mutations and the latest reply each got. */
export interface Writer {
  router: ReplyRouter;
  work: Workload;
  replies: Map<string, ServerMessage>;
}

/** Records a reply; the first success settles the mutation in its workload. */
export function recordReply(w: Writer, mid: string, reply: ServerMessage | null): void {
  if (!reply) return;
  const before = w.replies.get(mid);
  w.replies.set(mid, reply);
  if (isSuccess(reply) && !isSuccess(before)) w.work.settled(mid);
}

/** Every writer keeps `window` mutations in flight until `stop()` (which waits for their replies) or its socket closes. */
export function startLoad(writers: Writer[], window = 8): { stop(): Promise<void> } {
  let stopping = false;
  const loops = writers.map(async (w) => {
    const inFlight = new Set<Promise<void>>();
    while (!stopping && w.router.open) {
      while (inFlight.size < window && w.router.open) {
        const m = w.work.next();
        const p: Promise<void> = w.router.send(m.msg).then((r) => {
          recordReply(w, m.mid, r);
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  });
  return {
    async stop() {
      stopping = true;
      await within('the load loops to get their last replies', Promise.all(loops), 30_000);
    },
  };
}

/**
 * Sends messages in order on one connection, at most `window` unanswered at a time (the server
 * refuses more than 1024 in flight per connection with rate_limited), and returns their replies in order.
 */
export async function sendAll(router: ReplyRouter, msgs: Record<string, unknown>[], window = 64): Promise<(ServerMessage | null)[]> {
  const replies: (ServerMessage | null)[] = new Array(msgs.length).fill(null);
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < msgs.length; i++) {
    if (inFlight.size >= window) await Promise.race(inFlight);
    const p: Promise<void> = router.send(msgs[i]!).then((r) => {
      replies[i] = r;
      inFlight.delete(p);
    });
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return replies;
}

/** Resends every mutation without a success reply (in the order first sent) until each has one, at most `attempts` times. */
export async function retryUntilApplied(w: Writer, attempts = 5): Promise<number> {
  let resent = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const open = w.work.mutations.filter((m) => !isSuccess(w.replies.get(m.mid)));
    if (open.length === 0) break;
    const got = await within(`${w.work.label}: replies to ${open.length} retried mutations`, sendAll(w.router, open.map((m) => m.msg)), 60_000);
    resent += open.length;
    open.forEach((m, i) => recordReply(w, m.mid, got[i]!));
  }
  return resent;
}

/**
 * After every mutation of `writers` was applied: the log holds each exactly once at the sequence
 * its success reply named, sequences are dense, and the documents are what the mutations make.
 */
export async function checkWriters(t: Test, db: SqlPool, writers: Writer[], label: string): Promise<void> {
  const unapplied = writers.flatMap((w) => w.work.mutations.filter((m) => !isSuccess(w.replies.get(m.mid))).map((m) => ({ writer: w.work.label, kind: m.kind, reply: w.replies.get(m.mid) ?? null })));
  t.same(unapplied.slice(0, 3), [], `${label}: every mutation has its success reply (${unapplied.length} have not)`);
  const mids = writers.flatMap((w) => w.work.mutations.map((m) => m.mid));
  const log = await checkLog(t, db, mids, label);
  const replyOf = new Map(writers.flatMap((w) => [...w.replies]));
  const misplaced = mids.filter((mid) => {
    const r = replyOf.get(mid) as { sequence?: number; sync_revision?: number } | undefined;
    const row = log.get(mid);
    return !r || !row || r.sequence !== row.sequence || r.sync_revision !== row.sync_revision;
  });
  t.equal(misplaced.length, 0, `${label}: every success reply names the sequence and revision the log holds`);
  await checkDocs(t, db, new Map(writers.flatMap((w) => [...w.work.expectedDocs()])), label);
}
