import t from 'tap';
import { existsSync } from 'node:fs';
import type { JsonObject, PatchOp } from '@json-sync/core';
import { SyncEngine, type EngineOptions } from './engine.js';
import { ENGINE_ERROR_CODES, SyncError, type EngineErrorCode } from './errors.js';
import { EventType, type SyncEvent } from './events.js';
import { harness, localEngines, nextEvent, record } from './test-support/harness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const UNKNOWN_ID = '0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f';
const NOT_UUIDS: unknown[] = [
  'not-a-uuid',
  '',
  UNKNOWN_ID.toUpperCase(),
  UNKNOWN_ID.replace(/-/g, ''),
  `{${UNKNOWN_ID}}`,
  ` ${UNKNOWN_ID}`,
  `${UNKNOWN_ID}0`,
  42,
  null,
];

/** What a failed call could have touched; compared before and after to prove nothing was written. */
function state(e: SyncEngine, id?: string) {
  return {
    count: e.countDocuments(),
    pending: e.pendingCount(),
    docs: e.listDocuments({ includeDeleted: true }),
    history: id ? e.history(id) : null,
    conflicts: e.conflicts(),
  };
}

/** The call fails with a SyncError of `code` (a code from ENGINE_ERROR_CODES), fires no event and writes nothing. */
function refuses(t: { same(found: unknown, wanted: unknown, message: string): boolean }, e: SyncEngine, what: string, fn: () => unknown, code: EngineErrorCode, id?: string): void {
  const before = state(e, id);
  const events: SyncEvent[] = [];
  const off = e.onEvent((ev) => events.push(ev));
  let err: unknown;
  try {
    fn();
  } catch (x) {
    err = x;
  }
  off();
  t.same(
    {
      syncError: err instanceof SyncError,
      known: err instanceof SyncError && (ENGINE_ERROR_CODES as readonly string[]).includes(err.code),
      code: (err as { code?: unknown } | undefined)?.code ?? (err === undefined ? 'no error' : String(err)),
    },
    { syncError: true, known: true, code },
    `${what} → ${code}`,
  );
  t.same(state(e, id), before, `${what}: nothing written`);
  t.same(events, [], `${what}: no event`);
}

function nest(levels: number): JsonObject {
  let v: JsonObject = { leaf: 1 };
  for (let i = 1; i < levels; i++) v = { n: v };
  return v;
}

// Bad input must be refused locally: these engines never connect, and no server runs.
const local = localEngines(t);
const offline = (name: string) => local.engine(name);

t.test('content that is not a JSON object is refused', async (t) => {
  const e = offline('shape');
  const id = e.createDocument({ title: 'existing', n: 1 });
  const notObjects: [string, unknown][] = [
    ['array', [1, 2]],
    ['string', 'text'],
    ['null', null],
    ['number', 42],
    ['boolean', true],
    ['undefined', undefined],
    ['Date', new Date()],
    ['Map', new Map([['a', 1]])],
    ['class instance', new (class Task { title = 'x' })()],
  ];
  for (const [name, value] of notObjects) {
    refuses(t, e, `create ${name}`, () => e.createDocument(value as JsonObject), 'invalid_input');
    refuses(t, e, `update to ${name}`, () => e.updateDocument(id, value as JsonObject), 'invalid_input', id);
    refuses(t, e, `merge ${name}`, () => e.mergeDocument(id, value as JsonObject), 'invalid_input', id);
  }
  refuses(t, e, 'a function inside', () => e.createDocument({ f: (() => 1) as unknown as JsonObject }), 'invalid_input');
  refuses(t, e, 'a bigint inside', () => e.createDocument({ b: 1n as unknown as number }), 'invalid_input');
  refuses(t, e, 'undefined inside', () => e.createDocument({ u: undefined as unknown as null }), 'invalid_input');
  refuses(t, e, 'NUL in a string', () => e.createDocument({ s: 'a\u0000b' }), 'invalid_input');
  refuses(t, e, 'lone surrogate in a key', () => e.createDocument({ ['\ud800']: 1 }), 'invalid_input');
  t.same(e.getDocument(id)?.content, { title: 'existing', n: 1 });
});

t.test('hostile keys at any depth are refused, and nothing is polluted', async (t) => {
  const e = offline('hostile');
  const id = e.createDocument({ title: 'target', a: { b: [{}] } });
  const hostile: [string, JsonObject][] = [
    ['__proto__ at the top (JSON.parse)', JSON.parse('{"__proto__": {"polluted": true}}') as JsonObject],
    ['constructor at the top', { constructor: 'x' }],
    ['prototype at the top', { prototype: 1 }],
    ['__proto__ deep in an array', JSON.parse('{"a": {"b": [{"c": {"__proto__": {"polluted": true}}}]}}') as JsonObject],
    ['constructor nested', { a: { constructor: { prototype: {} } } }],
    ['prototype inside an array', { list: [1, { prototype: 0 }] }],
  ];
  for (const [name, value] of hostile) {
    refuses(t, e, `create with ${name}`, () => e.createDocument(value), 'invalid_input');
    refuses(t, e, `update with ${name}`, () => e.updateDocument(id, { title: 'target', ...value }), 'invalid_input', id);
    refuses(t, e, `merge with ${name}`, () => e.mergeDocument(id, value), 'invalid_input', id);
    refuses(t, e, `patch value with ${name}`, () => e.patchDocument(id, [{ op: 'add', path: '/x', value }]), 'invalid_input', id);
  }
  for (const path of ['/__proto__', '/constructor', '/prototype', '/a/__proto__/polluted', '/a/b/0/constructor']) {
    refuses(t, e, `patch path ${path}`, () => e.patchDocument(id, [{ op: 'add', path, value: 1 }]), 'invalid_input', id);
  }
  refuses(t, e, 'patch move from __proto__', () => e.patchDocument(id, [{ op: 'move', from: '/__proto__', path: '/x' }]), 'invalid_input', id);
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
  t.same(e.getDocument(id)?.content, { title: 'target', a: { b: [{}] } });
});

t.test('numbers beyond ±2^53 and non-finite numbers are refused; the safe range is kept exactly', async (t) => {
  const e = offline('numbers');
  const id = e.createDocument({ title: 'n', n: 0 });
  const bad: [string, number][] = [
    ['2^53 + 2', 2 ** 53 + 2],
    ['-(2^53 + 2)', -(2 ** 53 + 2)],
    ['1e300', 1e300],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
  ];
  for (const [name, n] of bad) {
    refuses(t, e, `create ${name}`, () => e.createDocument({ n }), 'invalid_input');
    refuses(t, e, `create ${name} deep`, () => e.createDocument({ a: [{ b: [n] }] }), 'invalid_input');
    refuses(t, e, `update ${name}`, () => e.updateDocument(id, { title: 'n', n }), 'invalid_input', id);
    refuses(t, e, `merge ${name}`, () => e.mergeDocument(id, { n }), 'invalid_input', id);
    refuses(t, e, `patch ${name}`, () => e.patchDocument(id, [{ op: 'replace', path: '/n', value: n }]), 'invalid_input', id);
  }
  const edge = e.createDocument({ max: Number.MAX_SAFE_INTEGER, min: -Number.MAX_SAFE_INTEGER, f: 0.1 });
  t.same(e.getDocument(edge)?.content, { max: Number.MAX_SAFE_INTEGER, min: -Number.MAX_SAFE_INTEGER, f: 0.1 });
});

t.test('nesting deeper than max_depth and documents over max_document_bytes are refused', async (t) => {
  const e = offline('limits');
  const id = e.createDocument({ title: 'l' });
  refuses(t, e, 'create 65 levels', () => e.createDocument(nest(65)), 'invalid_input');
  refuses(t, e, 'update to 65 levels', () => e.updateDocument(id, nest(65)), 'invalid_input', id);
  refuses(t, e, 'merge making 65 levels', () => e.mergeDocument(id, { deep: nest(64) }), 'invalid_input', id);
  refuses(t, e, 'patch adding 65 levels', () => e.patchDocument(id, [{ op: 'add', path: '/deep', value: nest(64) }]), 'invalid_input', id);
  let arrays: unknown = 1;
  for (let i = 0; i < 70; i++) arrays = [arrays];
  refuses(t, e, 'create 70 nested arrays', () => e.createDocument({ a: arrays as JsonObject }), 'invalid_input');
  t.ok(e.createDocument(nest(64)), '64 levels are allowed');

  const big = 'x'.repeat(512 * 1024);
  refuses(t, e, 'create over 512 KiB', () => e.createDocument({ big }), 'invalid_input');
  refuses(t, e, 'update to over 512 KiB', () => e.updateDocument(id, { big }), 'invalid_input', id);
  refuses(t, e, 'merge to over 512 KiB', () => e.mergeDocument(id, { big }), 'invalid_input', id);
  refuses(t, e, 'patch to over 512 KiB', () => e.patchDocument(id, [{ op: 'add', path: '/big', value: big }]), 'invalid_input', id);
  const halves = e.createDocument({ a: 'y'.repeat(300 * 1024) });
  refuses(t, e, 'merge whose result is over 512 KiB', () => e.mergeDocument(halves, { b: 'z'.repeat(300 * 1024) }), 'invalid_input', halves);
  const ops: PatchOp[] = Array.from({ length: 1001 }, (_, i) => ({ op: 'add', path: `/k${i}`, value: i }));
  refuses(t, e, 'patch with 1001 operations', () => e.patchDocument(id, ops), 'invalid_input', id);
  t.ok(e.createDocument({ big: 'x'.repeat(500 * 1024) }), 'just under the limit is allowed');
});

t.test('ids: bad ids, unknown and deleted documents, existing ids', async (t) => {
  const e = offline('ids');
  const id = e.createDocument({ title: 'live' });
  const gone = e.createDocument({ title: 'gone' });
  e.deleteDocument(gone);

  // create takes the id as input to validate: a malformed one is invalid_input. (null, like undefined,
  // means "no id given": the engine generates one, which is what a C caller passing NULL expects.)
  for (const bad of NOT_UUIDS.filter((x) => x !== null)) refuses(t, e, `create with id ${JSON.stringify(bad)}`, () => e.createDocument({ t: 1 }, { id: bad as string }), 'invalid_input');
  // Every other call looks a document up: a string that is not a lowercase UUID can name no document, so
  // it is reported exactly like an unknown one (not_found); the engine does not distinguish the two.
  const lookups: [string, (x: string) => unknown][] = [
    ['update', (x) => e.updateDocument(x, { title: 'x' })],
    ['patch', (x) => e.patchDocument(x, [{ op: 'add', path: '/x', value: 1 }])],
    ['merge', (x) => e.mergeDocument(x, { x: 1 })],
    ['delete', (x) => e.deleteDocument(x)],
    ['undo', (x) => e.undo(x)],
    ['redo', (x) => e.redo(x)],
  ];
  for (const [name, call] of lookups) {
    for (const bad of NOT_UUIDS) refuses(t, e, `${name} with id ${JSON.stringify(bad)}`, () => call(bad as string), 'not_found');
    refuses(t, e, `${name} of an unknown document`, () => call(UNKNOWN_ID), 'not_found');
    refuses(t, e, `${name} of the upper-case spelling of a live id`, () => call(id.toUpperCase()), 'not_found', id);
  }
  for (const [name, call] of lookups.slice(0, 4)) refuses(t, e, `${name} of a deleted document`, () => call(gone), 'not_found', gone);
  t.equal(e.getDocument(UNKNOWN_ID), null);
  t.equal(e.getDocument('not-a-uuid'), null);
  t.equal(e.getDocument(id.toUpperCase()), null);
  refuses(t, e, 'getDocument with a number', () => e.getDocument(42 as unknown as string), 'invalid_input');
  t.same(e.history(UNKNOWN_ID), []);

  t.match(e.createDocument({ t: 1 }), UUID, 'a generated id is a lowercase UUID');
  refuses(t, e, 'create with an existing id', () => e.createDocument({ title: 'again' }, { id }), 'conflict', id);
  t.same(e.getDocument(id)?.content, { title: 'live' });
  t.equal(e.getDocument(gone)?.deletedAt !== null, true);
});

t.test('patches that do not apply are refused', async (t) => {
  const e = offline('patches');
  const id = e.createDocument({ title: 'p', list: [1, 2], obj: { a: 1 } });
  const bad: [string, unknown][] = [
    ['remove of a missing member', [{ op: 'remove', path: '/missing' }]],
    ['replace of a missing member', [{ op: 'replace', path: '/missing', value: 1 }]],
    ['add under a missing parent', [{ op: 'add', path: '/missing/child', value: 1 }]],
    ['failing test', [{ op: 'test', path: '/title', value: 'other' }]],
    ['array index out of range', [{ op: 'add', path: '/list/5', value: 3 }]],
    ['move from a missing path', [{ op: 'move', from: '/missing', path: '/x' }]],
    ['copy without from', [{ op: 'copy', path: '/x' }]],
    ['add without value', [{ op: 'add', path: '/x' }]],
    ['unknown op', [{ op: 'merge', path: '/x', value: 1 }]],
    ['path without a leading slash', [{ op: 'add', path: 'x', value: 1 }]],
    ['bad ~ escape', [{ op: 'add', path: '/a~2b', value: 1 }]],
    ['root replaced by an array', [{ op: 'replace', path: '', value: [1] }]],
    ['root removed', [{ op: 'remove', path: '' }]],
    ['not an array', { op: 'add', path: '/x', value: 1 }],
    ['null', null],
    ['an operation that is not an object', ['add']],
    ['a good op followed by a bad one', [{ op: 'add', path: '/x', value: 1 }, { op: 'remove', path: '/missing' }]],
  ];
  for (const [name, ops] of bad) refuses(t, e, name, () => e.patchDocument(id, ops as PatchOp[]), 'invalid_input', id);
  t.same(e.getDocument(id)?.content, { title: 'p', list: [1, 2], obj: { a: 1 } });
  e.patchDocument(id, [
    { op: 'test', path: '/title', value: 'p' },
    { op: 'add', path: '/list/-', value: 3 },
    { op: 'move', from: '/obj/a', path: '/moved' },
  ]);
  t.same(e.getDocument(id)?.content, { title: 'p', list: [1, 2, 3], obj: {}, moved: 1 }, 'a valid patch applies');
});

t.test('after close() every call fails with code closed; close() twice is fine', async (t) => {
  const e = SyncEngine.open({ ...local.options('closed'), online: false });
  const id = e.createDocument({ title: 'before close' });
  await e.close();
  await e.close();
  const calls: [string, () => unknown][] = [
    ['createDocument', () => e.createDocument({ title: 'x' })],
    ['updateDocument', () => e.updateDocument(id, { title: 'x' })],
    ['patchDocument', () => e.patchDocument(id, [{ op: 'add', path: '/x', value: 1 }])],
    ['mergeDocument', () => e.mergeDocument(id, { x: 1 })],
    ['deleteDocument', () => e.deleteDocument(id)],
    ['getDocument', () => e.getDocument(id)],
    ['listDocuments', () => e.listDocuments()],
    ['countDocuments', () => e.countDocuments()],
    ['pendingCount', () => e.pendingCount()],
    ['setOnline', () => e.setOnline(true)],
    ['whenSynced', () => e.whenSynced(100)],
    ['conflicts', () => e.conflicts()],
    ['history', () => e.history(id)],
    ['undo', () => e.undo(id)],
    ['redo', () => e.redo(id)],
    ['on', () => e.on('documentCreated', () => {})],
    ['onEvent', () => e.onEvent(() => {})],
  ];
  for (const [name, call] of calls) {
    let err: unknown;
    try {
      // A promise-returning method may reject instead of throwing.
      await call();
    } catch (x) {
      err = x;
    }
    t.same({ syncError: err instanceof SyncError, code: (err as SyncError | undefined)?.code }, { syncError: true, code: 'closed' }, `${name} after close`);
  }
  t.equal(e.isConnected(), false);
  await e.close();

  const reopened = SyncEngine.open({ ...local.options('closed'), online: false });
  t.teardown(() => reopened.close(100));
  t.same(reopened.getDocument(id)?.content, { title: 'before close' }, 'the file was closed cleanly');
});

t.test('SyncEngine.open refuses bad options before touching the file', async (t) => {
  const good = local.options('opts');
  const bad: [string, unknown][] = [
    ['no options', undefined],
    ['null', null],
    ['a string', 'options'],
    ['empty object', {}],
    ...(['databasePath', 'serverUrl', 'email', 'apiKey', 'apiSecret'] as const).flatMap((k): [string, unknown][] => [
      [`missing ${k}`, { ...good, [k]: undefined }],
      [`empty ${k}`, { ...good, [k]: '' }],
      [`non-string ${k}`, { ...good, [k]: 42 }],
    ]),
    ['clientId not a UUID', { ...good, clientId: 'client-1' }],
    ['clientId upper-case', { ...good, clientId: UNKNOWN_ID.toUpperCase() }],
    ['clientId a number', { ...good, clientId: 7 }],
    ['reconnect minMs 0', { ...good, reconnect: { minMs: 0, maxMs: 100 } }],
    ['reconnect negative', { ...good, reconnect: { minMs: -5, maxMs: 100 } }],
    ['reconnect maxMs < minMs', { ...good, reconnect: { minMs: 500, maxMs: 100 } }],
    ['reconnect NaN', { ...good, reconnect: { minMs: NaN, maxMs: 100 } }],
    ['reconnect empty', { ...good, reconnect: {} }],
    ['reconnect as strings', { ...good, reconnect: { minMs: '100', maxMs: '1000' } }],
    ['reconnect maxMs Infinity', { ...good, reconnect: { minMs: 100, maxMs: Infinity } }],
    ['heartbeat zero', { ...good, heartbeat: { intervalMs: 0, timeoutMs: 1000 } }],
    ['heartbeat missing timeout', { ...good, heartbeat: { intervalMs: 1000 } }],
    ['durability unknown', { ...good, durability: 'paranoid' }],
  ];
  for (const [name, opts] of bad) {
    let err: unknown;
    let opened: SyncEngine | undefined;
    try {
      opened = SyncEngine.open(opts as EngineOptions);
    } catch (x) {
      err = x;
    }
    await opened?.close(50);
    t.same(
      { syncError: err instanceof SyncError, code: (err as SyncError | undefined)?.code },
      { syncError: true, code: 'invalid_input' },
      name,
    );
  }
  t.equal(existsSync(good.databasePath), false, 'no database file was created');

  const fresh = local.options('opts-ok');
  const ok = SyncEngine.open({ ...fresh, clientId: UNKNOWN_ID, online: false });
  t.equal(ok.clientId, UNKNOWN_ID, 'a valid clientId is used');
  await ok.close();
  const kept = SyncEngine.open({ ...fresh, clientId: '11111111-2222-4333-8444-555555555555', online: false });
  t.equal(kept.clientId, UNKNOWN_ID, 'the clientId is kept per file');
  await kept.close();

  const events = SyncEngine.open({ ...local.options('opts2'), online: false });
  t.teardown(() => events.close(50));
  let err: unknown;
  try {
    events.on('noSuchEvent' as 'documentCreated', () => {});
  } catch (x) {
    err = x;
  }
  t.same({ syncError: err instanceof SyncError, code: (err as SyncError | undefined)?.code }, { syncError: true, code: 'invalid_input' }, 'unknown event name');
});

t.test('listDocuments, countDocuments, history and conflicts report what happened', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const email = 'reports@example.com';
  const a = h.engine('ra', email);
  const b = h.engine('rb', email);
  await Promise.all([a.whenSynced(), b.whenSynced()]);

  t.test('listDocuments and countDocuments', async (t) => {
    const e = offline('listing');
    t.same(e.listDocuments(), []);
    t.equal(e.countDocuments(), 0);
    const one = e.createDocument({ title: 'one' });
    const two = e.createDocument({ title: 'two' });
    const three = e.createDocument({ n: 3 });
    e.deleteDocument(two);
    t.equal(e.countDocuments(), 2, 'deleted documents are not counted');
    t.same(e.listDocuments().map((d) => d.id).sort(), [one, three].sort());
    t.same(e.listDocuments({ includeDeleted: false }).map((d) => d.id).sort(), [one, three].sort());
    const all = e.listDocuments({ includeDeleted: true });
    t.same(all.map((d) => d.id).sort(), [one, two, three].sort());
    const deleted = all.find((d) => d.id === two)!;
    t.match(deleted.deletedAt, ISO);
    const live = all.find((d) => d.id === one)!;
    t.same(Object.keys(live).sort(), ['content', 'createdAt', 'deletedAt', 'id', 'pending', 'syncRevision', 'title', 'updatedAt']);
    t.match(live, { id: one, title: 'one', content: { title: 'one' }, syncRevision: null, pending: 1, deletedAt: null, createdAt: ISO, updatedAt: ISO });
    t.equal(all.find((d) => d.id === three)!.title, null, 'no title member → null title');
  });

  t.test('history holds local and remote entries', async (t) => {
    const created = nextEvent(b, EventType.DocumentCreated);
    const id = a.createDocument({ title: 'H', n: 1 });
    await created;
    let seen = nextEvent(b, EventType.DocumentUpdated, (e) => e.documentId === id);
    a.mergeDocument(id, { n: 2 });
    await seen;
    seen = nextEvent(a, EventType.DocumentUpdated, (e) => e.documentId === id);
    b.mergeDocument(id, { n: 3, extra: true });
    await seen;
    const deleted = nextEvent(b, EventType.DocumentDeleted, (e) => e.documentId === id);
    a.deleteDocument(id);
    await deleted;
    await a.whenSynced();

    const events = await h.tdb.db.query<{ mutation_id: string; sequence: number; sync_revision: number }>(
      'SELECT mutation_id::text AS mutation_id, sequence::int AS sequence, sync_revision FROM change_events WHERE document_id = $1 ORDER BY sequence',
      [id],
    );
    t.equal(events.rows.length, 4);
    const [c1, u2, u3, d4] = events.rows;

    const ha = a.history(id);
    const hb = b.history(id);
    const bOps = hb[2]?.forward;
    t.match(ha, [
      { documentId: id, origin: 'local', kind: 'create', forward: { title: 'H', n: 1 }, reverse: null, mutationId: c1!.mutation_id, undone: false, createdAt: ISO },
      { documentId: id, origin: 'local', kind: 'update', forward: [{ op: 'replace', path: '/n', value: 2 }], reverse: [{ op: 'replace', path: '/n', value: 1 }], mutationId: u2!.mutation_id, undone: false },
      { documentId: id, origin: 'remote', kind: 'update', mutationId: u3!.mutation_id, sequence: u3!.sequence, syncRevision: 3, undone: false, createdAt: ISO },
      { documentId: id, origin: 'local', kind: 'delete', forward: null, reverse: { title: 'H', n: 3, extra: true }, mutationId: d4!.mutation_id },
    ]);
    t.equal(ha.length, 4);
    t.same(ha[2]!.forward, bOps, "the remote entry carries B's operations");
    t.same(Object.keys(ha[0]!).sort(), ['createdAt', 'documentId', 'forward', 'id', 'kind', 'mutationId', 'origin', 'reverse', 'sequence', 'syncRevision', 'undone']);
    t.ok(ha[0]!.id < ha[1]!.id && ha[1]!.id < ha[2]!.id && ha[2]!.id < ha[3]!.id, 'oldest first');

    t.match(hb, [
      { origin: 'remote', kind: 'create', forward: { title: 'H', n: 1 }, mutationId: c1!.mutation_id, sequence: c1!.sequence, syncRevision: 1 },
      { origin: 'remote', kind: 'update', forward: [{ op: 'replace', path: '/n', value: 2 }], mutationId: u2!.mutation_id, sequence: u2!.sequence, syncRevision: 2 },
      { origin: 'local', kind: 'update', mutationId: u3!.mutation_id },
      { origin: 'remote', kind: 'delete', forward: null, mutationId: d4!.mutation_id, sequence: d4!.sequence, syncRevision: 4 },
    ]);
    t.equal(hb.length, 4);
    t.same(bOps !== undefined && (bOps as PatchOp[]).map((o) => o.path).sort(), ['/extra', '/n']);
  });

  t.test('conflicts() describes the losing change', async (t) => {
    const created = nextEvent(b, EventType.DocumentCreated);
    const id = a.createDocument({ title: 'C', field: 0 });
    await created;
    b.setOnline(false);
    b.mergeDocument(id, { field: 'b' });
    const lost = b.history(id).at(-1)!.mutationId;
    a.mergeDocument(id, { field: 'a' });
    await a.whenSynced();
    const conflict = nextEvent(b, EventType.ConflictDetected);
    b.setOnline(true);
    await conflict;
    await b.whenSynced();
    const list = b.conflicts();
    t.equal(list.length, 1);
    const c = list[0]!;
    t.same(Object.keys(c).sort(), ['createdAt', 'documentId', 'kind', 'message', 'mutationId', 'reason', 'rejected', 'serverDocument']);
    t.match(c, {
      documentId: id,
      mutationId: lost,
      kind: 'update',
      reason: 'conflict',
      rejected: [{ op: 'replace', path: '/field', value: 'b' }],
      createdAt: ISO,
    });
    t.match(c.serverDocument, { id, title: 'C', content: { title: 'C', field: 'a' }, sync_revision: 2, deleted_at: null, created_at: String, updated_at: String });
    t.match(c.serverDocument!.content_hash, /^[0-9a-f]{64}$/);
    t.match(c.serverDocument!.user_id, UUID);
    t.same(a.conflicts(), []);
  });
});

t.test('events of a failed call: none; of a good call: exactly one', async (t) => {
  const e = offline('events');
  const got = record(e);
  const id = e.createDocument({ title: 'x' });
  e.updateDocument(id, { title: 'x' });
  t.same(got.map((x) => [x.type, x.documentId, x.booleanData]), [[EventType.DocumentCreated, id, true]], 'an update that changes nothing writes and fires nothing');
  t.equal(e.history(id).length, 1);
  t.equal(e.pendingCount(), 1);
});
