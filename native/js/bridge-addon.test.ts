/**
 * The Node-API bridge (native/src/bridge.cc + event_queue.cc, the sources libsync_client links) built
 * by cmake-js as a regular addon (native/addon, `npm run build:addon`) and driven from the system Node:
 * calls come from libuv worker threads (Napi::AsyncWorker → Bridge::call) while this JS thread stays
 * free to run the dispatch function; events go through pushEvent into real EventQueues.
 * The bridge is a process-wide singleton started once, so the subtests run in order in one process.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventType } from '../../client-ts/src/events.js';
import { RESULT_CODES } from './abi.js';

interface Reply {
  code: number;
  message: string;
  text: string | null;
  /** Only when the answer was bytes. */
  bytes?: Buffer;
}
interface QueuedEvent {
  type: number;
  documentId: string | null;
  title: string | null;
  content: string | null;
  error: string | null;
  numeric: number;
  flag: boolean;
}
type DispatchResult = { code?: unknown; message?: string; value?: unknown } | unknown;
/** An operation's arguments as the bridge passes them: one object (contract/types.ts's values). */
type Args = Record<string, unknown>;
type Dispatch = (op: string, engineId: number, args: Args) => DispatchResult | Promise<DispatchResult>;
interface BridgeAddon {
  start(dispatch: Dispatch): void;
  pushEvent(engine: number, type: number, documentId: string | null, title: string | null, content: string | null, error: string | null, numeric: number, flag: boolean): void;
  publishCounts(engine: number, documents: number, pending: number): void;
  callsWaiting(): boolean;
  log(level: number, message: string): void;
  newQueue(engineId: number, limit: number): void;
  removeQueue(engineId: number): void;
  drainQueue(engineId: number): { events: QueuedEvent[]; dropped: number };
  queueFdReadable(engineId: number): boolean;
  notifyCount(engineId: number): number;
  publishedState(engineId: number): { documents: number; pending: number; connected: boolean };
  callFromThread(op: string, engineId: number, args: Args, timeoutMs: number): Promise<Reply>;
  stop(): void;
}

// SYNC_BRIDGE_ADDON: another build of the same addon (e.g. a deliberately broken one, to see these tests fail).
const addonPath = process.env.SYNC_BRIDGE_ADDON ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'addon', 'Release', 'sync_client_bridge.node');
if (!existsSync(addonPath)) throw new Error(`${addonPath} is missing: run "npm run build:addon" in native/ (the pretest script does)`);
const bridge = createRequire(import.meta.url)(addonPath) as BridgeAddon;

const { SUCCESS, NOT_FOUND, CONFLICT, TIMEOUT, NOT_INITIALIZED, UNKNOWN } = RESULT_CODES;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The dispatch function handed to start() forwards to whatever the running subtest installs. */
let handler: Dispatch = () => ({ code: UNKNOWN, message: 'no handler installed' });
const dispatch: Dispatch = (op, engineId, args) => handler(op, engineId, args);

/** An event as pushEvent takes it, with defaults. */
function push(engine: number, e: Partial<QueuedEvent> & { type: number }): void {
  bridge.pushEvent(engine, e.type, e.documentId ?? null, e.title ?? null, e.content ?? null, e.error ?? null, e.numeric ?? 0, e.flag ?? false);
}
const updated = (documentId: string, content: string): Partial<QueuedEvent> & { type: number } => ({ type: EventType.DocumentUpdated, documentId, content });
const created = (documentId: string): Partial<QueuedEvent> & { type: number } => ({ type: EventType.DocumentCreated, documentId, content: '{}' });

t.test('before start, a call answers NOT_INITIALIZED at once', async (t) => {
  const t0 = Date.now();
  const r = await bridge.callFromThread('get_document', 1, { id: 'x' }, 5000);
  t.equal(r.code, NOT_INITIALIZED);
  t.match(r.message, /not running/);
  t.ok(Date.now() - t0 < 2000, 'no wait for the timeout');
});

t.test('start(dispatch) takes a function, once per process', async (t) => {
  t.throws(() => bridge.start(42 as unknown as Dispatch), TypeError);
  bridge.start(dispatch);
  t.throws(() => bridge.start(dispatch), /already started/);
  bridge.log(1, 'no log sink is installed: ignored'); // must not crash
});

t.test('calls from worker threads reach dispatch and return its result', async (t) => {
  const seen: [string, number, Args][] = [];
  handler = (op, engineId, args) => {
    seen.push([op, engineId, args]);
    switch (op) {
      case 'text':
        return { code: SUCCESS, value: Object.values(args).join('|') };
      case 'number':
        return { code: SUCCESS, value: Number(args.n) };
      case 'bool':
        return { code: SUCCESS, value: args.b === 'yes' };
      case 'void':
        return { code: SUCCESS };
      case 'missing':
        return { code: NOT_FOUND, message: `document ${args.id} not found` };
      case 'conflict':
        return { code: CONFLICT, message: 'version conflict' };
      case 'throws':
        throw new Error('dispatch threw');
      case 'no-object':
        return 'just a string';
      case 'no-code':
        return { value: 'x' };
      default:
        return { code: UNKNOWN, message: `unknown op ${op}` };
    }
  };
  const t0 = Date.now();
  const text = await bridge.callFromThread('text', 7, { a: 'a', b: 'ünïcødé ✓', c: '' }, 5000);
  t.same(text, { code: SUCCESS, message: '', text: 'a|ünïcødé ✓|' });
  t.ok(Date.now() - t0 < 2000, 'answered while the JS thread was free (no wait for the timeout)');
  t.same(seen[0], ['text', 7, { a: 'a', b: 'ünïcødé ✓', c: '' }], 'op, engine id and args reach dispatch unchanged');

  t.equal((await bridge.callFromThread('text', 1, {}, 5000)).text, '', 'an empty string is text, not "no value"');
  t.same(await bridge.callFromThread('number', 1, { n: '42' }, 5000), { code: SUCCESS, message: '', text: null }, 'a value that is not text is not passed on');
  t.same(await bridge.callFromThread('bool', 1, { b: 'yes' }, 5000), { code: SUCCESS, message: '', text: null });
  t.same(await bridge.callFromThread('void', 1, {}, 5000), { code: SUCCESS, message: '', text: null });

  t.same(await bridge.callFromThread('missing', 2, { id: 'd1' }, 5000), { code: NOT_FOUND, message: 'document d1 not found', text: null });
  t.match(await bridge.callFromThread('conflict', 2, {}, 5000), { code: CONFLICT, message: 'version conflict' });
  t.match(await bridge.callFromThread('throws', 2, {}, 5000), { code: UNKNOWN, message: 'dispatch threw' }, 'a throwing dispatch gives UNKNOWN with its message');
  t.match(await bridge.callFromThread('no-object', 2, {}, 5000), { code: UNKNOWN, message: /no result/ });
  t.match(await bridge.callFromThread('no-code', 2, {}, 5000), { code: UNKNOWN, text: 'x' }, 'a reply without a code is UNKNOWN');
});

t.test('the arguments reach dispatch as one object of typed values: strings, numbers, booleans, null, and records of those', async (t) => {
  let received: Args | undefined;
  handler = (_op, _engineId, args) => {
    received = args;
    return { code: SUCCESS };
  };
  const options = { reconnect_min_ms: 4294967295, client_id: null, start_offline: true, tls_ca_file: 'PEM ✓' };
  await bridge.callFromThread('create', 1, { database_url: 'a.db', timeout_ms: 0, online: false, options }, 5000);
  t.same(received, { database_url: 'a.db', timeout_ms: 0, online: false, options }, 'the largest u32 is exact; a record arrives as an object');
  t.equal(typeof received?.timeout_ms, 'number');
  t.equal(received?.online, false, 'false is a boolean, not "0"');
  t.equal((received?.options as { client_id: unknown }).client_id, null, 'NULL is null');
});

t.test('key bytes reach dispatch as a Buffer of their own, which the handler may zero', async (t) => {
  let received: Args | undefined;
  handler = (_op, _engineId, args) => {
    received = args;
    return { code: SUCCESS };
  };
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  await bridge.callFromThread('rekey', 1, { key, none: null }, 5000);
  t.ok(Buffer.isBuffer(received?.key));
  t.same([...(received?.key as Buffer)], [...key], 'the same bytes');
  t.not(received?.key, key, 'a copy');
  t.equal(received?.none, null);
});

t.test('attachment bytes cross both ways as Buffers, copied once each way, empty ones too', async (t) => {
  const received: Buffer[] = [];
  handler = (_op, _engineId, args) => {
    const bytes = args.bytes as Buffer;
    received.push(bytes);
    // Answers the bytes reversed: what comes back is what this handler made, not an echo of the call.
    return { code: SUCCESS, value: Buffer.from(bytes).reverse() };
  };
  for (const length of [0, 1, 262145, 3 * 1024 * 1024 + 1]) {
    const sent = Buffer.alloc(length);
    for (let i = 0; i < length; i++) sent[i] = (i * 31 + (i >> 8)) & 0xff;
    const arrayBuffer = sent.buffer.slice(sent.byteOffset, sent.byteOffset + length);
    const r = await bridge.callFromThread('add_attachment', 1, { bytes: arrayBuffer, content_type: null }, 10000);
    t.equal(r.code, SUCCESS, `${length} bytes: ${r.message}`);
    const got = received.at(-1)!;
    t.ok(Buffer.isBuffer(got), 'the handler gets a Buffer');
    t.ok(got.equals(sent), `the handler got the ${length} bytes`);
    t.equal(r.text, null, 'bytes are no text');
    t.ok(r.bytes?.equals(Buffer.from(sent).reverse()), `the caller got the ${length} bytes answered`);
  }
  handler = () => ({ code: SUCCESS, value: 'text' });
  const text = await bridge.callFromThread('attachment_state', 1, {}, 5000);
  t.equal(text.text, 'text');
  t.equal(text.bytes, undefined, 'text is no bytes');
});

t.test('a dispatch returning a Promise completes the call when it settles', async (t) => {
  handler = async (op, _engineId, args) => {
    await sleep(Number(args.ms));
    if (op === 'reject') throw new Error(`rejected after ${args.ms} ms`);
    if (op === 'reject-string') return Promise.reject('plain reason');
    if (op === 'resolve-nothing') return undefined;
    return { code: SUCCESS, value: `settled after ${args.ms} ms` };
  };
  const t0 = Date.now();
  const r = await bridge.callFromThread('resolve', 1, { ms: 80 }, 5000);
  t.same([r.code, r.text], [SUCCESS, 'settled after 80 ms']);
  t.ok(Date.now() - t0 >= 75, 'the call waited for the promise');

  t.same(await bridge.callFromThread('reject', 1, { ms: 20 }, 5000), { code: UNKNOWN, message: 'rejected after 20 ms', text: null });
  t.match(await bridge.callFromThread('reject-string', 1, { ms: 0 }, 5000), { code: UNKNOWN, message: 'plain reason' });
  t.match(await bridge.callFromThread('resolve-nothing', 1, { ms: 0 }, 5000), { code: UNKNOWN, message: /no result/ });
});

t.test('no answer within the timeout gives TIMEOUT; the late answer is dropped', async (t) => {
  // A dispatch that blocks the JS thread past the caller's timeout.
  let lateReturned = false;
  handler = (op, _engineId, args) => {
    if (op === 'block') {
      const end = Date.now() + Number(args.ms);
      while (Date.now() < end) {
        /* busy: the JS thread cannot answer */
      }
      lateReturned = true;
      return { code: SUCCESS, value: 'late (blocking)' };
    }
    return { code: SUCCESS, value: `${op}:${Object.values(args).join(',')}` };
  };
  const t0 = Date.now();
  const blocked = await bridge.callFromThread('block', 1, { ms: 400 }, 100);
  t.equal(blocked.code, TIMEOUT);
  t.match(blocked.message, /within 100 ms.*outcome is unknown/);
  t.equal(blocked.text, null, 'the late value is not delivered');
  t.ok(lateReturned, 'dispatch did run (and returned after the caller gave up)');
  t.ok(Date.now() - t0 >= 95, 'the caller waited for its timeout');

  // A promise that settles after the timeout.
  let settleLate!: () => void;
  const lateSettled = new Promise<void>((resolve) => (settleLate = resolve));
  handler = async (op, _engineId, args) => {
    if (op === 'slow') {
      await sleep(Number(args.ms));
      setImmediate(settleLate);
      return { code: SUCCESS, value: 'late (promise)' };
    }
    return { code: SUCCESS, value: `${op}:${Object.values(args).join(',')}` };
  };
  const slow = await bridge.callFromThread('slow', 1, { ms: 250 }, 50);
  t.equal(slow.code, TIMEOUT);
  t.equal(slow.text, null);
  await lateSettled;
  // The request objects outlived their callers; later calls get their own answers, not the late ones.
  for (let i = 0; i < 5; i++) t.equal((await bridge.callFromThread('next', 1, { i: String(i) }, 5000)).text, `next:${i}`);
  const rejectLate = await bridge.callFromThread('slow', 1, { ms: 150 }, 20);
  t.equal(rejectLate.code, TIMEOUT);
  await sleep(200);
  t.equal((await bridge.callFromThread('after', 3, { x: 'ok' }, 5000)).text, 'after:ok');
});

t.test('200 concurrent calls from parallel AsyncWorkers each get their own result', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  handler = (op, engineId, args) => {
    const i = Number(args.i);
    const reply = { code: i % 10 === 9 ? NOT_FOUND : SUCCESS, message: `m${i}`, value: `${op}/${engineId}/${i}` };
    if (i % 3 === 0) return reply; // some answered synchronously
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return sleep(i % 7).then(() => {
      inFlight--;
      return reply;
    });
  };
  const n = 200;
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => bridge.callFromThread(`op${i % 4}`, 100 + (i % 5), { i }, 10_000)));
  let right = 0;
  replies.forEach((r, i) => {
    if (r.code === (i % 10 === 9 ? NOT_FOUND : SUCCESS) && r.text === `op${i % 4}/${100 + (i % 5)}/${i}` && r.message === `m${i}`) right++;
    else t.fail(`call ${i} got ${JSON.stringify(r)}`);
  });
  t.equal(right, n, 'every call got its own reply');
  t.ok(maxInFlight >= 2, `requests overlapped in JS (max ${maxInFlight} pending at once)`);
});

t.test('pushEvent to a registered queue → drainQueue returns them in order', async (t) => {
  bridge.newQueue(1, 100);
  const pushed: QueuedEvent[] = [
    { type: EventType.DocumentCreated, documentId: 'd1', title: 'One', content: '{"a":1}', error: null, numeric: 0, flag: true },
    { type: EventType.DocumentUpdated, documentId: 'd1', title: 'One', content: '{"a":2}', error: null, numeric: 0, flag: false },
    { type: EventType.SyncCompleted, documentId: null, title: null, content: null, error: null, numeric: 2 ** 33, flag: false },
    { type: EventType.SyncError, documentId: null, title: null, content: null, error: 'ünïcødé error ✓', numeric: 3, flag: false },
    { type: EventType.DocumentDeleted, documentId: 'd1', title: null, content: null, error: null, numeric: 0, flag: true },
  ];
  for (const e of pushed) push(1, e);
  t.same(bridge.drainQueue(1), { events: pushed, dropped: 0 });
  t.same(bridge.drainQueue(1), { events: [], dropped: 0 }, 'a drain takes everything');

  // Non-string optional fields become null, as the C side sees NULL.
  bridge.pushEvent(1, EventType.SyncStarted, 5 as unknown as string, undefined as unknown as string, null, null, 'x' as unknown as number, 1 as unknown as boolean);
  t.same(bridge.drainQueue(1).events, [{ type: EventType.SyncStarted, documentId: null, title: null, content: null, error: null, numeric: 0, flag: true }]);
  t.throws(() => (bridge.pushEvent as unknown as (...a: unknown[]) => void)(1, EventType.SyncStarted), TypeError, 'too few arguments');
  t.throws(() => bridge.pushEvent('1' as unknown as number, 0, null, null, null, null, 0, false), TypeError, 'engine id not a number');
});

t.test('events pushed by dispatch during a call are queued before the call returns', async (t) => {
  bridge.newQueue(2, 100);
  handler = async (_op, engineId, args) => {
    push(engineId, { type: EventType.DocumentCreated, documentId: String(args.id), content: String(args.json), flag: true });
    await sleep(5);
    return { code: SUCCESS, value: args.id };
  };
  const r = await bridge.callFromThread('create_document', 2, { id: 'doc-9', json: '{"x":1}' }, 5000);
  t.equal(r.text, 'doc-9');
  t.ok(bridge.queueFdReadable(2));
  t.same(bridge.drainQueue(2).events, [{ type: EventType.DocumentCreated, documentId: 'doc-9', title: null, content: '{"x":1}', error: null, numeric: 0, flag: true }]);
});

t.test('overflow: past the limit updates of a queued document coalesce, other events drop the oldest', async (t) => {
  bridge.newQueue(5, 5);
  push(5, created('A'));
  push(5, updated('B', 'b1'));
  push(5, updated('C', 'c1'));
  push(5, created('D'));
  push(5, created('E')); // full: A B C D E
  push(5, updated('B', 'b2')); // coalesces into B's slot: position kept, newest content
  push(5, updated('C', 'c2'));
  let batch = bridge.drainQueue(5);
  t.same(
    batch.events.map((e) => [e.documentId, e.content]),
    [['A', '{}'], ['B', 'b2'], ['C', 'c2'], ['D', '{}'], ['E', '{}']],
  );
  t.equal(batch.dropped, 0, 'coalescing drops nothing');

  push(5, created('A'));
  push(5, updated('B', 'b1'));
  push(5, updated('C', 'c1'));
  push(5, created('D'));
  push(5, created('E'));
  push(5, updated('F', 'f1')); // F not queued → the oldest (A) goes
  push(5, created('G')); // not an update → the oldest (B's update) goes
  push(5, updated('B', 'b3')); // B's update is gone, so nothing to coalesce: C goes, B appended
  push(5, updated('F', 'f2')); // F queued → coalesces in place
  batch = bridge.drainQueue(5);
  t.same(
    batch.events.map((e) => [e.type, e.documentId, e.content]),
    [
      [EventType.DocumentCreated, 'D', '{}'],
      [EventType.DocumentCreated, 'E', '{}'],
      [EventType.DocumentUpdated, 'F', 'f2'],
      [EventType.DocumentCreated, 'G', '{}'],
      [EventType.DocumentUpdated, 'B', 'b3'],
    ],
  );
  t.equal(batch.dropped, 3, 'A, B(b1) and C(c1) dropped and counted');
  t.same(bridge.drainQueue(5), { events: [], dropped: 0 }, 'the dropped count is reported once');

  // Below the limit nothing coalesces: every update is kept.
  push(5, updated('X', 'x1'));
  push(5, updated('X', 'x2'));
  t.same(bridge.drainQueue(5).events.map((e) => e.content), ['x1', 'x2']);

  // An update of a document without an id never coalesces.
  for (let i = 0; i < 5; i++) push(5, created(`n${i}`));
  bridge.pushEvent(5, EventType.DocumentUpdated, null, null, 'anon', null, 0, false);
  batch = bridge.drainQueue(5);
  t.same(batch.events.map((e) => e.content), ['{}', '{}', '{}', '{}', 'anon']);
  t.equal(batch.dropped, 1);

  // 10k events into a limit-5 queue: bounded, and the count adds up.
  for (let i = 0; i < 10_000; i++) push(5, created(`m${i}`));
  batch = bridge.drainQueue(5);
  t.same(batch.events.map((e) => e.documentId), ['m9995', 'm9996', 'm9997', 'm9998', 'm9999']);
  t.equal(batch.dropped, 9995);
});

t.test('notify fires once until the next drain', async (t) => {
  bridge.newQueue(3, 10);
  t.equal(bridge.notifyCount(3), 0, 'installing on an empty queue does not fire');
  push(3, created('a'));
  t.equal(bridge.notifyCount(3), 1);
  push(3, created('b'));
  push(3, updated('a', '{"v":2}'));
  t.equal(bridge.notifyCount(3), 1, 'not again while events wait');
  t.equal(bridge.drainQueue(3).events.length, 3);
  t.equal(bridge.notifyCount(3), 1, 'draining does not fire');
  push(3, created('c'));
  push(3, created('d'));
  t.equal(bridge.notifyCount(3), 2, 'once more after the drain');
  bridge.drainQueue(3);
  bridge.drainQueue(3);
  push(3, created('e'));
  t.equal(bridge.notifyCount(3), 3);
  bridge.drainQueue(3);

  // Installed while events already wait: fires at once, then not again until a drain.
  bridge.newQueue(4, 10);
  push(4, created('x'));
  t.equal(bridge.notifyCount(4), 1, 'events already waiting are announced on install');
  push(4, created('y'));
  t.equal(bridge.notifyCount(4), 1);
  bridge.drainQueue(4);
  push(4, created('z'));
  t.equal(bridge.notifyCount(4), 2);

  // Overflowing pushes do not fire extra notifies either.
  bridge.newQueue(6, 2);
  bridge.notifyCount(6);
  for (let i = 0; i < 20; i++) push(6, created(`o${i}`));
  t.equal(bridge.notifyCount(6), 1);
});

t.test('the event fd is readable while events wait, not after draining', async (t) => {
  bridge.newQueue(7, 3);
  t.equal(bridge.queueFdReadable(7), false, 'empty queue');
  push(7, created('a'));
  t.equal(bridge.queueFdReadable(7), true);
  push(7, created('b'));
  t.equal(bridge.queueFdReadable(7), true, 'still readable with more events');
  t.equal(bridge.queueFdReadable(7), true, 'polling does not consume it');
  bridge.drainQueue(7);
  t.equal(bridge.queueFdReadable(7), false, 'drained');
  bridge.drainQueue(7);
  t.equal(bridge.queueFdReadable(7), false, 'an empty drain leaves it unreadable');
  for (let i = 0; i < 10; i++) push(7, created(`o${i}`)); // overflowing
  t.equal(bridge.queueFdReadable(7), true);
  t.equal(bridge.drainQueue(7).events.length, 3);
  t.equal(bridge.queueFdReadable(7), false);
});

t.test('pushEvent for an unknown or removed engine is ignored', async (t) => {
  bridge.newQueue(8, 10);
  bridge.notifyCount(8);
  t.doesNotThrow(() => push(999, created('lost')));
  t.doesNotThrow(() => push(0, created('lost')));
  t.same(bridge.drainQueue(8), { events: [], dropped: 0 }, 'no other queue received it');
  t.equal(bridge.queueFdReadable(8), false);

  push(8, created('kept'));
  bridge.removeQueue(8);
  push(8, created('after-remove'));
  t.same(bridge.drainQueue(8).events.map((e) => e.documentId), ['kept'], 'nothing reached the queue after detach');
  t.equal(bridge.notifyCount(8), 1, 'and no notify fired for it');
  t.throws(() => bridge.drainQueue(12345), /no queue/);
});

t.test('callsWaiting is true exactly while a call is queued and this thread has not picked it up', async (t) => {
  handler = () => ({ code: SUCCESS, value: 'done' });
  t.equal(bridge.callsWaiting(), false, 'nothing queued');
  const reply = bridge.callFromThread('queued', 1, {}, 5000);
  // This thread stays busy (as during a slice of server messages) until the worker thread has queued the call.
  const until = Date.now() + 2000;
  while (!bridge.callsWaiting() && Date.now() < until);
  t.equal(bridge.callsWaiting(), true, 'queued, not picked up');
  t.equal((await reply).text, 'done');
  t.equal(bridge.callsWaiting(), false, 'picked up');
});

t.test('publishCounts and the connection events set what the C calls answer on their own thread', async (t) => {
  bridge.newQueue(9, 100);
  t.same(bridge.publishedState(9), { documents: 0, pending: 0, connected: false }, 'nothing published yet');
  bridge.publishCounts(9, 12, 3);
  t.same(bridge.publishedState(9), { documents: 12, pending: 3, connected: false });
  bridge.publishCounts(9, 2 ** 40 + 1, 0);
  t.equal(bridge.publishedState(9).documents, 2 ** 40 + 1, 'beyond 32 bits');

  push(9, { type: EventType.ConnectionAttempted, numeric: 1 });
  t.equal(bridge.publishedState(9).connected, false, 'an attempt is not a connection');
  push(9, { type: EventType.ConnectionSucceeded });
  t.equal(bridge.publishedState(9).connected, true, 'connected once the event passes the bridge, before anyone drains it');
  push(9, { type: EventType.DocumentCreated, documentId: 'd' });
  t.equal(bridge.publishedState(9).connected, true, 'other events leave it');
  push(9, { type: EventType.ConnectionLost, error: 'connection closed' });
  t.equal(bridge.publishedState(9).connected, false);
  t.same(bridge.drainQueue(9).events.map((e) => e.type), [EventType.ConnectionAttempted, EventType.ConnectionSucceeded, EventType.DocumentCreated, EventType.ConnectionLost], 'the events are queued as ever');

  t.doesNotThrow(() => bridge.publishCounts(999, 1, 1), 'an unknown engine is ignored');
  bridge.removeQueue(9);
  bridge.publishCounts(9, 1, 1);
  push(9, { type: EventType.ConnectionSucceeded });
  t.same(bridge.publishedState(9), { documents: 2 ** 40 + 1, pending: 0, connected: false }, 'nothing reaches a detached engine');
  t.throws(() => bridge.publishCounts(9, 'x' as unknown as number, 1), TypeError);
});

t.test('after stop(), calls answer NOT_INITIALIZED and the event loop can end', async (t) => {
  handler = () => ({ code: SUCCESS, value: 'still running' });
  t.equal((await bridge.callFromThread('ping', 1, {}, 5000)).text, 'still running');
  bridge.stop();
  const t0 = Date.now();
  const r = await bridge.callFromThread('ping', 1, {}, 5000);
  t.equal(r.code, NOT_INITIALIZED);
  t.ok(Date.now() - t0 < 2000);
  bridge.stop(); // idempotent
  // If the thread-safe function were still held, this process would never exit and tap would time out.
});
