import t, { type Test } from 'tap';
import { applyPatch, newUuid, reversePatch, type JsonObject, type PatchOp, type ServerMessage } from '@json-sync/core';
import { mulberry32 } from '@json-sync/test-support';
import { SyncError } from '../errors.js';
import { ModelServer } from '../test-support/model-server.js';
import { engineParts, ScriptedWire, type Parts } from '../test-support/parts.js';
import { createPlan } from './local-changes.js';
import { UndoStack } from './undo.js';

/**
 * The session against a model of the server's rules, under random interleavings of local writes
 * (with patches that cannot apply twice: array inserts and removals, moves), others' changes,
 * replies, replies repeated for a resend, connections lost with answers still unapplied,
 * catch-up pages and snapshots. After every step the pending count equals the outbox's rows;
 * at the end the replica equals the server, and every conflict recorded is a change the server
 * never applied.
 */

const SEEDS = 20;
const STEPS = 400;

/** Random patch operations on `content` that apply to it (some of which would fail if applied twice). */
function randomOps(content: JsonObject, rnd: () => number): PatchOp[] {
  const tags = Array.isArray(content.tags) ? content.tags : null;
  const r = rnd();
  if (r < 0.3) return [{ op: 'replace', path: '/n', value: Math.floor(rnd() * 100) }];
  if (r < 0.5 && tags) return [{ op: 'add', path: '/tags/-', value: Math.floor(rnd() * 10) }];
  if (r < 0.65 && tags && tags.length > 0) return [{ op: 'remove', path: `/tags/${Math.floor(rnd() * tags.length)}` }];
  if (r < 0.75 && tags && tags.length > 0) return [{ op: 'add', path: '/tags/0', value: -1 }];
  if (r < 0.85 && 'a' in content) return [{ op: 'move', from: '/a', path: '/b' }];
  if (r < 0.95 && 'b' in content) return [{ op: 'move', from: '/b', path: '/a' }];
  return [{ op: 'add', path: '/extra', value: rnd() }];
}

class Run {
  readonly wire = new ScriptedWire();
  readonly server = new ModelServer();
  readonly p: Parts;
  readonly undo: UndoStack;
  /** Server messages on their way to the client, not yet received (lost if the connection drops). */
  private toClient: ServerMessage[] = [];
  private readonly delivered: ServerMessage[] = [];
  readonly ids: string[] = [];

  constructor(
    t: Test,
    private readonly rnd: () => number,
  ) {
    this.p = engineParts(t, { wire: this.wire });
    this.undo = new UndoStack(this.p.ctx.store);
    this.connect();
  }

  connect(): void {
    this.wire.live = true;
    this.p.ctx.inbox.connected();
    this.p.ctx.session.authenticated(this.server.latest);
  }

  /** The connection drops: what the server has not read, and what it sent that the client has not received, is lost. */
  disconnect(): void {
    this.wire.live = false;
    this.wire.take();
    this.toClient = [];
    this.p.ctx.session.lost(1006);
  }

  pick(): string | undefined {
    return this.ids[Math.floor(this.rnd() * this.ids.length)];
  }

  localWrite(): void {
    const { rnd, p } = this;
    const id = rnd() < 0.25 || this.ids.length === 0 ? this.newId() : this.pick()!;
    try {
      const r = rnd();
      if (r < 0.2) p.local.change(id, 'local', createPlan(id, { title: `t${Math.floor(rnd() * 1000)}`, n: 0, tags: [], a: 1 }));
      else if (r < 0.85) {
        p.local.change(id, 'local', (c) => {
          if (!c.content) throw new SyncError('not_found', id);
          const ops = randomOps(c.content, rnd);
          const next = applyPatch(c.content, ops);
          return { kind: 'update', content: next, forward: ops, reverse: reversePatch(c.content, next) };
        });
      } else if (r < 0.93) {
        p.local.change(id, 'local', (c) => {
          if (!c.content) throw new SyncError('not_found', id);
          return { kind: 'delete', content: null, forward: null, reverse: c.content };
        });
      } else {
        const direction = rnd() < 0.7 ? 'undo' : 'redo';
        const entry = this.undo.target(id, direction);
        p.local.change(
          id,
          direction,
          (c) => this.undo.plan(entry, c.view !== undefined && c.view.deleted === 0, c.content, direction),
          () => this.undo.done(entry, direction),
        );
      }
    } catch (err) {
      if (!(err instanceof SyncError)) throw err;
    }
  }

  otherWrite(): void {
    const { rnd } = this;
    const id = rnd() < 0.2 || this.ids.length === 0 ? this.newId() : this.pick()!;
    const push = this.server.other(id, (d) => {
      if (!d || d.deleted) return rnd() < 0.5 ? { type: 'create', content: { title: 'theirs', n: 1, tags: [1], a: 2 } } : null;
      if (rnd() < 0.1) return { type: 'delete' };
      return { type: 'update', ops: randomOps(d.content, rnd) };
    });
    if (push) this.toClient.push(push);
  }

  /** The server reads the next message the client sent and answers it. */
  serve(): boolean {
    const m = this.wire.sent.shift();
    if (!m) return false;
    this.toClient.push(...this.server.receive(m, this.p.ctx.clientId));
    return true;
  }

  /** The client receives the next message on its way (it joins the engine's inbox). */
  receive(): boolean {
    const m = this.toClient.shift();
    if (!m) return false;
    this.delivered.push(m);
    this.p.ctx.inbox.push(m);
    return true;
  }

  /** A reply received before comes again (as a server repeating its stored reply does). */
  repeatReply(): void {
    const replies = this.delivered.filter((m) => m.type.endsWith('_response') || m.type === 'conflict_detected');
    const m = replies[Math.floor(this.rnd() * replies.length)];
    if (m) this.toClient.push(m);
  }

  private newId(): string {
    const id = newUuid();
    this.ids.push(id);
    return id;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** The pending count against a recount of the outbox rows, and against the views' own counts. */
function countsAgree(t: Test, run: Run, step: string): boolean {
  const { outbox, store } = run.p.ctx;
  const queued = store.db.prepare('SELECT count(*) FROM changes WHERE state = 0').pluck().get() as number;
  const inViews = store.listViews(true).reduce((n, v) => n + v.pending, 0);
  if (outbox.pending === queued && inViews === queued && queued >= 0) return true;
  t.fail(`${step}: pendingCount ${outbox.pending}, outbox rows waiting for an answer ${queued}, views' pending ${inViews}`);
  return false;
}

for (let seed = 1; seed <= SEEDS; seed++) {
  t.test(`random interleaving, seed ${seed}`, async (t) => {
    const rnd = mulberry32(seed);
    const run = new Run(t, rnd);
    for (let step = 0; step < STEPS; step++) {
      const r = rnd();
      if (r < 0.25) run.localWrite();
      else if (r < 0.35) run.otherWrite();
      else if (r < 0.6) run.serve();
      else if (r < 0.85) run.receive();
      else if (r < 0.9) run.repeatReply();
      else if (r < 0.95 && run.wire.live) {
        // Answers received but not yet applied when the connection drops: the engine resends, the server repeats.
        while (rnd() < 0.7 && run.receive());
        run.disconnect();
      } else if (!run.wire.live) run.connect();
      await tick();
      if (!countsAgree(t, run, `step ${step}`)) return;
    }

    // Quiet: connected, everything sent is answered and everything answered applied.
    if (!run.wire.live) run.connect();
    for (let round = 0; round < 2000; round++) {
      const busy = run.serve() || run.receive();
      await tick();
      if (!countsAgree(t, run, `settling, round ${round}`)) return;
      const { session, outbox, inbox } = run.p.ctx;
      if (!busy && inbox.size === 0 && outbox.size === 0 && session.current.name === 'live' && run.wire.sent.length === 0) break;
    }
    const { store, outbox, session } = run.p.ctx;
    t.equal(outbox.size, 0, 'the outbox drained');
    t.equal(session.current.name, 'live', 'level with the log');

    const serverLive = new Map([...run.server.docs].filter(([, d]) => !d.deleted).map(([id, d]) => [id, { content: d.content, revision: d.revision }]));
    const clientLive = new Map(store.listViews(false).map((v) => [v.id, { content: JSON.parse(v.content) as JsonObject, revision: v.revision }]));
    t.same(clientLive, serverLive, "the replica's live documents equal the server's");

    const applied = run.server.applied();
    const falseConflicts = store.conflicts().filter((c) => applied.has(c.mutation_id));
    t.same(falseConflicts, [], 'every conflict recorded is a change the server never applied');
  });
}
