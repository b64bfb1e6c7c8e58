import t, { type Test } from 'tap';
import { DEFAULT_LIMITS, newUuid, type ErrorCode, type Limits, type ServerMessage, type ServerMessageOf } from '@json-sync/core';
import { startTestServer, TestClient, type Identity } from '@json-sync/test-support';

// One server for the whole file: every bad input below goes to the same process and the same
// connection, so a crash or a wedged connection anywhere shows up in every later check.
const ts = await startTestServer({ prefix: 'bad_input', appName: 'app one' });
const { tdb, server } = ts;
const app2 = await tdb.credentials('app two');
const alice: Identity = { email: 'alice@example.com', apiKey: ts.apiKey, secret: ts.secret };
const bob: Identity = { email: 'bob@example.com', apiKey: ts.apiKey, secret: ts.secret };
// Same email as alice, other application: a different user who must stay out of reach.
const aliceElsewhere: Identity = { email: 'alice@example.com', apiKey: app2.apiKey, secret: app2.secret };

const c = await TestClient.open(server.url);
const auth = await c.authenticate(alice);
if (auth.type !== 'auth_success') throw new Error(`auth failed: ${JSON.stringify(auth)}`);
// Servers before attachments leave their limits out; this one sends them, the defaults only satisfy the type.
const limits: Limits = { ...DEFAULT_LIMITS, ...auth.limits };
const clients: TestClient[] = [c];

t.teardown(async () => {
  for (const x of clients) x.close();
  await ts.teardown();
});

const MISSING = Symbol('missing');

/** Alice's own document that every patch test aims at; it must come out of them untouched. */
const target = await c.create({ title: 'target', n: 1, arr: [1, 2], nested: { k: 'v' } });
const D = target.document_id;

/** Proves the connection and the process survived: a ping answered, a create committed, nothing else sent. */
async function stillUsable(t: Test): Promise<void> {
  await c.ping();
  const r = await c.create({ alive: true });
  t.equal(r.sync_revision, 1, 'a create still commits afterwards');
  t.same(c.received, [], 'no reply beyond the one error');
  t.equal(server.child.exitCode, null, 'server process alive');
}

/**
 * Sends one bad frame and expects exactly one `error` with `code`. `echo` is the mutation_id the
 * error must carry, or null when it must carry none.
 */
async function expectError(t: Test, frame: string | Buffer, code: ErrorCode, echo: string | null, label: string): Promise<ServerMessageOf<'error'>> {
  const p = c.next((m) => m.type === 'error');
  if (typeof frame === 'string') c.send(frame);
  else c.ws.send(frame, { binary: true });
  const e = (await p) as ServerMessageOf<'error'>;
  t.equal(e.code, code, `${label}: code ${code}`);
  t.type(e.message, 'string', `${label}: has a message`);
  if (echo === null) t.notOk('mutation_id' in e, `${label}: no mutation_id echoed`);
  else t.equal(e.mutation_id, echo, `${label}: mutation_id echoed`);
  await stillUsable(t);
  return e;
}

/** The message with the field at `path` replaced by `value` (or removed for MISSING). */
function withField(base: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string, unknown>;
  const last = path[path.length - 1]!;
  if (value === MISSING) delete o[last];
  else o[last] = value;
  return copy;
}

async function targetRow(): Promise<{ content: unknown; sync_revision: number; events: number }> {
  const d = await tdb.db.query<{ content: unknown; sync_revision: number }>('SELECT content, sync_revision FROM documents WHERE id = $1', [D]);
  const e = await tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change_events WHERE document_id = $1', [D]);
  return { ...d.rows[0]!, events: e.rows[0]!.n };
}

async function assertTargetUntouched(t: Test): Promise<void> {
  const row = await targetRow();
  t.same(row, { content: { title: 'target', n: 1, arr: [1, 2], nested: { k: 'v' } }, sync_revision: 1, events: 1 }, 'target document unchanged');
}

function update(patch: unknown, extra: Record<string, unknown> = {}): { frame: string; mid: string } {
  return rawUpdate(JSON.stringify(patch), extra);
}

/** An update of the target whose patch is given as JSON text (for values JSON.stringify cannot write). */
function rawUpdate(patch: string, extra: Record<string, unknown> = {}): { frame: string; mid: string } {
  const mid = newUuid();
  const more = Object.keys(extra).length > 0 ? `,${JSON.stringify(extra).slice(1, -1)}` : '';
  return { frame: `{"type":"update_document","patch":{"document_id":"${D}","patch":${patch}},"mutation_id":"${mid}"${more}}`, mid };
}

t.test('a frame over max_frame_bytes answers message_too_large; one of exactly the limit is served', async (t) => {
  t.equal(limits.max_frame_bytes, 1024 * 1024, 'default frame limit is 1 MiB');
  const head = '{"type":"ping","pad":"';
  const tail = '"}';
  const exact = head + 'x'.repeat(limits.max_frame_bytes - head.length - tail.length) + tail;
  t.equal(Buffer.byteLength(exact), limits.max_frame_bytes);
  await c.request(exact, (m) => m.type === 'pong');
  await expectError(t, exact.replace('"pad":"', '"pad":"x'), 'message_too_large', null, 'ping one byte over');
  const bigCreate = JSON.stringify({
    type: 'create_document',
    document: { id: newUuid(), content: { s: 'y'.repeat(limits.max_frame_bytes) } },
    mutation_id: newUuid(),
  });
  await expectError(t, bigCreate, 'message_too_large', null, 'create over the frame limit');
});

t.test('invalid JSON answers invalid_message', async (t) => {
  for (const frame of ['', '{', 'not json', '{"type":"ping"', "{'type':'ping'}", '{"type":"ping",}', 'NaN', '\u0000']) {
    await expectError(t, frame, 'invalid_message', null, `frame ${JSON.stringify(frame)}`);
  }
});

t.test('JSON that is not an object answers invalid_message', async (t) => {
  for (const frame of ['[]', '[{"type":"ping"}]', '"ping"', '42', '-1.5', 'null', 'true', 'false']) {
    await expectError(t, frame, 'invalid_message', null, `frame ${frame}`);
  }
});

t.test('unknown or missing type answers invalid_message', async (t) => {
  const frames = [
    '{}',
    '{"type":null}',
    '{"type":5}',
    '{"type":["ping"]}',
    '{"type":"PING"}',
    '{"type":"hello"}',
    '{"type":"pong"}',
    '{"type":"auth_success"}',
    '{"type":"document_created_response"}',
    '{"type":"__proto__"}',
    '{"type":"constructor"}',
    '{"type":"toString"}',
    '{"type":"hasOwnProperty"}',
    // JSON.parse makes "__proto__" an own property: the real `type` is still missing.
    '{"__proto__":{"type":"ping"}}',
  ];
  for (const frame of frames) await expectError(t, frame, 'invalid_message', null, `frame ${frame}`);
  const mid = newUuid();
  await expectError(t, JSON.stringify({ type: 'shred_document', document_id: D, mutation_id: mid }), 'invalid_message', mid, 'unknown mutation-like type');
  await assertTargetUntouched(t);
});

t.test('authenticate on an authenticated connection answers invalid_message and keeps the session', async (t) => {
  await expectError(t, JSON.stringify(c.authMessage(alice)), 'invalid_message', null, 'valid authenticate again');
  await expectError(t, JSON.stringify(c.authMessage(bob)), 'invalid_message', null, 'authenticate as another user');
  await expectError(t, '{"type":"authenticate"}', 'invalid_message', null, 'bare authenticate');
  // Still alice's session: what it creates is hers.
  const r = await c.create({ whose: 'alice' });
  const owner = await tdb.db.query<{ user_id: string }>('SELECT user_id FROM documents WHERE id = $1', [r.document_id]);
  t.equal(owner.rows[0]!.user_id, c.userId, 'session still belongs to alice');
  await assertTargetUntouched(t);
});

t.test('missing or wrongly typed fields, for every client message type', async (t) => {
  type Case = { base: Record<string, unknown>; path: string[]; values: unknown[]; code: ErrorCode };
  const createBase = () => ({ type: 'create_document', document: { id: newUuid(), content: { a: 1 } }, mutation_id: newUuid() });
  const updateBase = () => ({ type: 'update_document', patch: { document_id: D, patch: [{ op: 'replace', path: '/n', value: 2 }] }, mutation_id: newUuid() });
  const deleteBase = () => ({ type: 'delete_document', document_id: D, mutation_id: newUuid() });
  const badCounts = ['1', -1, 1.5, null, true, {}, []];
  const cases: (Case & { fresh: () => Record<string, unknown> })[] = [
    { fresh: createBase, base: createBase(), path: ['document'], values: [MISSING, 'x', [], null, 5], code: 'invalid_message' },
    { fresh: createBase, base: createBase(), path: ['document', 'id'], values: [MISSING, 5, null, '', {}], code: 'invalid_message' },
    { fresh: createBase, base: createBase(), path: ['document', 'content'], values: [MISSING, 'x', [], [{ a: 1 }], null, 5, true], code: 'invalid_message' },
    { fresh: createBase, base: createBase(), path: ['base_revision'], values: [...badCounts, 0], code: 'invalid_message' },
    { fresh: updateBase, base: updateBase(), path: ['patch'], values: [MISSING, 'x', [], null, 5], code: 'invalid_message' },
    { fresh: updateBase, base: updateBase(), path: ['patch', 'document_id'], values: [MISSING, 5, null, ''], code: 'invalid_message' },
    {
      fresh: updateBase,
      base: updateBase(),
      path: ['patch', 'patch'],
      values: [
        MISSING,
        {},
        'x',
        null,
        5,
        [5],
        [null],
        [[]],
        [{ op: 'frobnicate', path: '/n', value: 1 }],
        [{ path: '/n', value: 1 }],
        [{ op: 5, path: '/n', value: 1 }],
        [{ op: 'replace', value: 1 }],
        [{ op: 'replace', path: 5, value: 1 }],
        [{ op: 'replace', path: '/n' }],
        [{ op: 'add', path: '/z' }],
        [{ op: 'test', path: '/n' }],
        [{ op: 'move', path: '/m' }],
        [{ op: 'copy', path: '/m', from: 5 }],
      ],
      code: 'invalid_patch',
    },
    { fresh: updateBase, base: updateBase(), path: ['patch', 'content_hash'], values: [5, null, 'abc', 'A'.repeat(64), 'g'.repeat(64)], code: 'invalid_message' },
    { fresh: updateBase, base: updateBase(), path: ['base_revision'], values: [...badCounts, 0], code: 'invalid_message' },
    { fresh: deleteBase, base: deleteBase(), path: ['document_id'], values: [MISSING, 5, null, '', [D]], code: 'invalid_message' },
    { fresh: deleteBase, base: deleteBase(), path: ['base_revision'], values: [...badCounts, 0], code: 'invalid_message' },
  ];
  for (const k of cases) {
    for (const value of k.values) {
      const base = k.fresh();
      const mid = base.mutation_id as string;
      const msg = withField(base, k.path, value);
      const label = `${base.type} ${k.path.join('.')} = ${value === MISSING ? '(missing)' : JSON.stringify(value)}`;
      await expectError(t, JSON.stringify(msg), k.code, mid, label);
    }
  }
  // mutation_id itself: malformed, so there is nothing to echo. (Missing is allowed: the server assigns one.)
  for (const base of [createBase(), updateBase(), deleteBase()]) {
    for (const value of [5, null, '', 'not-a-uuid']) {
      const label = `${base.type} mutation_id = ${JSON.stringify(value)}`;
      await expectError(t, JSON.stringify(withField(base, ['mutation_id'], value)), 'invalid_message', null, label);
    }
  }
  const others: { base: Record<string, unknown>; path: string[]; values: unknown[] }[] = [
    { base: { type: 'get_changes_since', last_sequence: 0 }, path: ['last_sequence'], values: [MISSING, ...badCounts] },
    { base: { type: 'get_changes_since', last_sequence: 0, limit: 10 }, path: ['limit'], values: [...badCounts, 0] },
    { base: { type: 'ack_changes', up_to_sequence: 0 }, path: ['up_to_sequence'], values: [MISSING, ...badCounts] },
  ];
  for (const k of others) {
    for (const value of k.values) {
      const label = `${k.base.type} ${k.path.join('.')} = ${value === MISSING ? '(missing)' : JSON.stringify(value)}`;
      await expectError(t, JSON.stringify(withField(k.base, k.path, value)), 'invalid_message', null, label);
    }
  }
  await assertTargetUntouched(t);
});

t.test('messages without fields ignore extra fields', async (t) => {
  // request_full_sync and ping have nothing to get wrong but their type; extra fields are dropped, not fatal.
  await c.request({ type: 'ping', extra: { nested: [1] } }, (m) => m.type === 'pong');
  c.send({ type: 'request_full_sync', junk: true });
  const done = (await c.next((m) => m.type === 'sync_complete')) as ServerMessageOf<'sync_complete'>;
  const docs = c.received.filter((m) => m.type === 'sync_document');
  t.equal(docs.length, done.synced_count);
  c.received.splice(0);
  await stillUsable(t);
});

t.test('non-UUID and uppercase-UUID ids answer invalid_message', async (t) => {
  const good = newUuid();
  const bad = [good.toUpperCase(), good.replace(/-/g, ''), `{${good}}`, `${good}\n`, ` ${good}`, good.slice(0, -1), `${good}0`, 'g'.repeat(8) + good.slice(8), 'not-a-uuid'];
  for (const id of bad) {
    const mid = newUuid();
    await expectError(t, JSON.stringify({ type: 'create_document', document: { id, content: { a: 1 } }, mutation_id: mid }), 'invalid_message', mid, `create id ${JSON.stringify(id)}`);
  }
  const upperD = D.toUpperCase();
  let mid = newUuid();
  await expectError(t, JSON.stringify({ type: 'update_document', patch: { document_id: upperD, patch: [{ op: 'replace', path: '/n', value: 9 }] }, mutation_id: mid }), 'invalid_message', mid, 'update with uppercase id of an own document');
  mid = newUuid();
  await expectError(t, JSON.stringify({ type: 'delete_document', document_id: upperD, mutation_id: mid }), 'invalid_message', mid, 'delete with uppercase id of an own document');
  await expectError(t, JSON.stringify({ type: 'create_document', document: { id: newUuid(), content: { a: 1 } }, mutation_id: newUuid().toUpperCase() }), 'invalid_message', null, 'uppercase mutation_id');
  // PostgreSQL's uuid type would fold case: nothing with the refused id may have been stored.
  const stored = await tdb.db.query('SELECT 1 FROM documents WHERE id = $1', [good]);
  t.equal(stored.rows.length, 0, 'no document stored under the refused id');
  await assertTargetUntouched(t);
});

t.test('a binary frame answers invalid_message, even when it holds a valid message', async (t) => {
  await expectError(t, Buffer.from(JSON.stringify({ type: 'ping' })), 'invalid_message', null, 'binary ping');
  await expectError(t, Buffer.from([0, 1, 2, 255, 254]), 'invalid_message', null, 'binary junk');
  const mid = newUuid();
  await expectError(t, Buffer.from(JSON.stringify({ type: 'create_document', document: { id: newUuid(), content: {} }, mutation_id: mid })), 'invalid_message', null, 'binary create');
  const r = await tdb.db.query('SELECT 1 FROM mutations WHERE mutation_id = $1', [mid]);
  t.equal(r.rows.length, 0, 'binary create wrote nothing');
});

t.test('invalid JSON pointers answer invalid_patch', async (t) => {
  const patches = [
    [{ op: 'replace', path: 'a', value: 1 }],
    [{ op: 'replace', path: 'n', value: 1 }],
    [{ op: 'add', path: '/a~2', value: 1 }],
    [{ op: 'add', path: '/a~', value: 1 }],
    [{ op: 'add', path: '/nested/~x', value: 1 }],
    [{ op: 'move', from: 'n', path: '/m' }],
    [{ op: 'copy', from: '/n~3', path: '/m' }],
    [{ op: 'move', from: '/n', path: 'm' }],
  ];
  for (const p of patches) {
    const { frame, mid } = update(p);
    await expectError(t, frame, 'invalid_patch', mid, `patch ${JSON.stringify(p)}`);
  }
  await assertTargetUntouched(t);
});

t.test('patches that do not apply answer invalid_patch and change nothing', async (t) => {
  const patches = [
    [{ op: 'remove', path: '/missing' }],
    [{ op: 'replace', path: '/missing', value: 1 }],
    [{ op: 'add', path: '/missing/child', value: 1 }],
    [{ op: 'test', path: '/n', value: 999 }],
    [{ op: 'test', path: '/missing', value: null }],
    [{ op: 'move', from: '/missing', path: '/m' }],
    [{ op: 'copy', from: '/missing', path: '/m' }],
    [{ op: 'add', path: '/arr/5', value: 1 }],
    [{ op: 'remove', path: '/arr/2' }],
    [{ op: 'add', path: '/arr/x', value: 1 }],
    [{ op: 'move', from: '/nested', path: '/nested/inner' }],
    // The result would not be an object.
    [{ op: 'replace', path: '', value: [1] }],
    [{ op: 'replace', path: '', value: 'text' }],
    // Atomic: the first op applies on its own, the second does not, so neither may stick.
    [{ op: 'replace', path: '/n', value: 2 }, { op: 'remove', path: '/missing' }],
    [{ op: 'add', path: '/new', value: 1 }, { op: 'test', path: '/new', value: 2 }],
  ];
  for (const p of patches) {
    const { frame, mid } = update(p);
    await expectError(t, frame, 'invalid_patch', mid, `patch ${JSON.stringify(p)}`);
  }
  await assertTargetUntouched(t);
});

t.test('hostile keys are refused as content keys at any depth, in patch paths and in patch values', async (t) => {
  const contents = [
    '{"__proto__":{"polluted":true}}',
    '{"constructor":1}',
    '{"prototype":null}',
    '{"a":{"b":{"__proto__":{"polluted":true}}}}',
    '{"a":[1,{"constructor":{"prototype":{}}}]}',
    '{"x":[[{"prototype":"p"}]]}',
    '{"ok":1,"deep":{"deeper":{"deepest":[{"__proto__":[]}]}}}',
  ];
  for (const content of contents) {
    const mid = newUuid();
    const frame = `{"type":"create_document","document":{"id":"${newUuid()}","content":${content}},"mutation_id":"${mid}"}`;
    await expectError(t, frame, 'invalid_message', mid, `create content ${content}`);
  }
  const pathPatches = [
    '[{"op":"add","path":"/__proto__","value":{"polluted":true}}]',
    '[{"op":"add","path":"/__proto__/polluted","value":true}]',
    '[{"op":"add","path":"/nested/constructor","value":1}]',
    '[{"op":"replace","path":"/prototype","value":1}]',
    '[{"op":"add","path":"/arr/0/__proto__","value":1}]',
    '[{"op":"remove","path":"/constructor"}]',
    '[{"op":"test","path":"/__proto__","value":{}}]',
    '[{"op":"move","from":"/__proto__","path":"/m"}]',
    '[{"op":"copy","from":"/constructor/prototype","path":"/m"}]',
    '[{"op":"move","from":"/n","path":"/prototype"}]',
  ];
  const valuePatches = [
    '[{"op":"add","path":"/a","value":{"__proto__":{"polluted":true}}}]',
    '[{"op":"replace","path":"/n","value":{"k":{"constructor":{}}}}]',
    '[{"op":"add","path":"/arr/-","value":[{"prototype":1}]}]',
    '[{"op":"test","path":"/nested","value":{"__proto__":null}}]',
  ];
  for (const p of [...pathPatches, ...valuePatches]) {
    const mid = newUuid();
    const frame = `{"type":"update_document","patch":{"document_id":"${D}","patch":${p}},"mutation_id":"${mid}"}`;
    await expectError(t, frame, 'invalid_patch', mid, `patch ${p}`);
  }
  const stored = await tdb.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM documents WHERE content::text ~ '(__proto__|"constructor"|"prototype")'`,
  );
  t.equal(stored.rows[0]!.n, 0, 'no hostile key reached the database');
  await assertTargetUntouched(t);
});

/** JSON texts that break a content rule; as an operation's value each must earn a client-error code. */
const HOSTILE_VALUES: [string, string][] = [
  ['__proto__ key', '{"__proto__":{"polluted":true}}'],
  ['constructor key', '{"constructor":{"prototype":1}}'],
  ['2^60', '1152921504606846976'],
  ['1e400', '1e400'],
  ['U+0000', '"a\\u0000b"'],
  ['lone surrogate', '"\\ud800"'],
  ['10,000-deep value', `${'['.repeat(10_000)}1${']'.repeat(10_000)}`],
  ['900 KB string', `"${'x'.repeat(900_000)}"`],
];

t.test('members an operation does not know are dropped, never stored or pushed, whatever they hold', async (t) => {
  const doc = await c.create({ title: 'members' });
  const id = doc.document_id;
  const other = await TestClient.connect(server.url, alice);
  clients.push(other);
  let revision = 1;
  for (const [form, value] of HOSTILE_VALUES) {
    for (const member of ['__proto__', 'constructor', 'junk']) {
      const what = `${form} as "${member}"`;
      const mid = newUuid();
      revision++;
      const op = `{"op":"replace","path":"/title","value":${JSON.stringify(what)},"${member}":${value}}`;
      const pushed = other.next((m) => m.type === 'document_updated' && m.mutation_id === mid);
      const reply = await c.request(`{"type":"update_document","patch":{"document_id":"${id}","patch":[${op}]},"mutation_id":"${mid}"}`, (m) => (m as { mutation_id?: string }).mutation_id === mid);
      t.match(reply, { type: 'document_updated_response', sync_revision: revision }, `${what}: the known members apply`);
      const clean = [{ op: 'replace', path: '/title', value: what }];
      t.same(((await pushed) as ServerMessageOf<'document_updated'>).patch, clean, `${what}: the push carries the known members only`);
      const stored = await tdb.db.query<{ forward_patch: unknown }>('SELECT forward_patch FROM change_events WHERE mutation_id = $1', [mid]);
      t.same(stored.rows.map((r) => r.forward_patch), [clean], `${what}: the log holds the known members only`);
    }
  }
  t.same(c.all('error'), [], 'no error for any of them');
  await stillUsable(t);
});

t.test('each hostile form as an operation value earns a specific client-error code, never server_error', async (t) => {
  for (const [what, value] of HOSTILE_VALUES) {
    for (const op of ['add', 'replace', 'test']) {
      const { frame, mid } = rawUpdate(`[{"op":"${op}","path":"/n","value":${value}}]`);
      // A large string is a valid value: it fails only when it would make the document too large (a `test` just fails).
      const code = what === '900 KB string' && op !== 'test' ? 'message_too_large' : 'invalid_patch';
      const e = await expectError(t, frame, code, mid, `${op} ${what}`);
      t.not(e.code, 'server_error');
    }
  }
  await assertTargetUntouched(t);
});

t.test('numbers beyond ±2^53 are refused, not rounded; 2^53 - 1 is kept exactly', async (t) => {
  for (const n of ['9007199254740993', '-9007199254740993', '9007199254740992', '1e400', '-1e400', '123456789012345678901234567890']) {
    const mid = newUuid();
    const frame = `{"type":"create_document","document":{"id":"${newUuid()}","content":{"a":[{"n":${n}}]}},"mutation_id":"${mid}"}`;
    await expectError(t, frame, 'invalid_message', mid, `content number ${n}`);
  }
  let mid = newUuid();
  await expectError(t, `{"type":"update_document","patch":{"document_id":"${D}","patch":[{"op":"replace","path":"/n","value":9007199254740993}]},"mutation_id":"${mid}"}`, 'invalid_patch', mid, 'patch value 2^53 + 1');
  mid = newUuid();
  await expectError(t, `{"type":"update_document","patch":{"document_id":"${D}","patch":[{"op":"replace","path":"/n","value":2}]},"base_revision":9007199254740993,"mutation_id":"${mid}"}`, 'invalid_message', mid, 'base_revision 2^53 + 1');
  await expectError(t, '{"type":"get_changes_since","last_sequence":9007199254740993}', 'invalid_message', null, 'last_sequence 2^53 + 1');
  await expectError(t, '{"type":"ack_changes","up_to_sequence":9007199254740993}', 'invalid_message', null, 'up_to_sequence 2^53 + 1');
  const id = newUuid();
  mid = newUuid();
  const ok = await c.mutate(JSON.parse(`{"type":"create_document","document":{"id":"${id}","content":{"max":9007199254740991,"min":-9007199254740991}},"mutation_id":"${mid}"}`));
  t.equal(ok.type, 'document_created_response', 'the largest safe integers are accepted');
  const row = await tdb.db.query<{ max: string; min: string }>(`SELECT content->>'max' AS max, content->>'min' AS min FROM documents WHERE id = $1`, [id]);
  t.same(row.rows[0], { max: '9007199254740991', min: '-9007199254740991' }, 'stored exactly');
  await assertTargetUntouched(t);
});

t.test('nesting deeper than max_depth is refused; exactly max_depth is accepted', async (t) => {
  // n levels of containers, the content object being level 1.
  const nestObj = (n: number): Record<string, unknown> => (n === 1 ? {} : { a: nestObj(n - 1) });
  const nestArr = (n: number): unknown => (n === 1 ? [] : [nestArr(n - 1)]);
  const depth = limits.max_depth;
  t.equal(depth, 64, 'default max_depth');
  const okObj = await c.create(nestObj(depth));
  t.equal(okObj.sync_revision, 1, `objects ${depth} deep accepted`);
  const okArr = await c.create({ a: nestArr(depth - 1) });
  t.equal(okArr.sync_revision, 1, `arrays reaching depth ${depth} accepted`);
  let mid = newUuid();
  await expectError(t, JSON.stringify({ type: 'create_document', document: { id: newUuid(), content: nestObj(depth + 1) }, mutation_id: mid }), 'invalid_message', mid, `objects ${depth + 1} deep`);
  mid = newUuid();
  await expectError(t, JSON.stringify({ type: 'create_document', document: { id: newUuid(), content: { a: nestArr(depth) } }, mutation_id: mid }), 'invalid_message', mid, `arrays reaching depth ${depth + 1}`);
  mid = newUuid();
  await expectError(t, `{"type":"create_document","document":{"id":"${newUuid()}","content":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}},"mutation_id":"${mid}"}`, 'invalid_message', mid, 'objects 5000 deep');
  // Far deeper than any limit, sent as text: refused as too deep, not failing as a server_error on the way.
  mid = newUuid();
  await expectError(t, `{"type":"create_document","document":{"id":"${newUuid()}","content":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}},"mutation_id":"${mid}"}`, 'invalid_message', mid, 'objects 100 000 deep');
  mid = newUuid();
  await expectError(t, `{"type":"create_document","document":{"id":"${newUuid()}","content":{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}},"mutation_id":"${mid}"}`, 'invalid_message', mid, 'arrays 200 000 deep');
  mid = newUuid();
  await expectError(t, `{"type":"update_document","patch":{"document_id":"${D}","patch":[{"op":"add","path":"/deep","value":${'['.repeat(200_000)}${']'.repeat(200_000)}}]},"mutation_id":"${mid}"}`, 'invalid_patch', mid, 'patch value 200 000 deep');
  // A patch value that is itself too deep is a bad patch; one that makes the document too deep breaks a content rule.
  const u1 = update([{ op: 'add', path: '/deep', value: nestObj(depth + 1) }]);
  await expectError(t, u1.frame, 'invalid_patch', u1.mid, 'patch value deeper than max_depth');
  const u2 = update([{ op: 'add', path: '/deep', value: nestObj(depth) }]);
  await expectError(t, u2.frame, 'invalid_message', u2.mid, 'patch that makes the document deeper than max_depth');
  await assertTargetUntouched(t);
});

t.test('a document over max_document_bytes answers message_too_large; exactly the limit is accepted', async (t) => {
  const max = limits.max_document_bytes;
  t.equal(max, 512 * 1024, 'default max_document_bytes');
  // Canonical JSON of {"s":"…"} is 8 bytes plus the string.
  const atLimit = await c.create({ s: 'x'.repeat(max - 8) });
  t.equal(atLimit.sync_revision, 1, 'document of exactly max_document_bytes accepted');
  let mid = newUuid();
  await expectError(t, JSON.stringify({ type: 'create_document', document: { id: newUuid(), content: { s: 'x'.repeat(max - 7) } }, mutation_id: mid }), 'message_too_large', mid, 'create one byte over');
  mid = newUuid();
  // Size counts UTF-8 bytes: 262 144 "é" are 524 288 bytes, over the limit in bytes though not in characters.
  await expectError(t, JSON.stringify({ type: 'create_document', document: { id: newUuid(), content: { s: 'é'.repeat(max / 2) } }, mutation_id: mid }), 'message_too_large', mid, 'create over by UTF-8 bytes');
  const small = await c.create({ s: '' });
  mid = newUuid();
  await expectError(
    t,
    JSON.stringify({ type: 'update_document', patch: { document_id: small.document_id, patch: [{ op: 'replace', path: '/s', value: 'x'.repeat(max) }] }, mutation_id: mid }),
    'message_too_large',
    mid,
    'update that grows the document over the limit',
  );
  const grown = await tdb.db.query<{ sync_revision: number; content: unknown }>('SELECT sync_revision, content FROM documents WHERE id = $1', [small.document_id]);
  t.same(grown.rows[0], { sync_revision: 1, content: { s: '' } }, 'refused growth left the document as it was');
});

t.test('a patch with more than max_patch_ops ops is refused; exactly max_patch_ops applies', async (t) => {
  const max = limits.max_patch_ops;
  t.equal(max, 1000, 'default max_patch_ops');
  const doc = await c.create({ n: 1 });
  const ops = (k: number) => Array.from({ length: k }, () => ({ op: 'test', path: '/n', value: 1 }));
  const mid = newUuid();
  await expectError(
    t,
    JSON.stringify({ type: 'update_document', patch: { document_id: doc.document_id, patch: ops(max + 1) }, mutation_id: mid }),
    'invalid_patch',
    mid,
    `${max + 1} ops`,
  );
  const r = await c.mutate({ type: 'update_document', patch: { document_id: doc.document_id, patch: ops(max) }, base_revision: 1 });
  t.match(r, { type: 'document_updated_response', sync_revision: 2 }, `${max} ops apply`);
});

t.test('strings with U+0000 or lone surrogates are refused', async (t) => {
  const contents = ['{"s":"a\\u0000b"}', '{"a\\u0000":1}', '{"a":["\\u0000"]}', '{"s":"\\ud800"}', '{"s":"x\\udc00y"}', '{"\\udbff":1}'];
  for (const content of contents) {
    const mid = newUuid();
    const frame = `{"type":"create_document","document":{"id":"${newUuid()}","content":${content}},"mutation_id":"${mid}"}`;
    await expectError(t, frame, 'invalid_message', mid, `content ${content}`);
  }
  const patches = [
    '[{"op":"add","path":"/a\\u0000","value":1}]',
    '[{"op":"add","path":"/a","value":"x\\u0000"}]',
    '[{"op":"add","path":"/a","value":{"k\\u0000":1}}]',
    '[{"op":"move","from":"/n\\u0000","path":"/m"}]',
    '[{"op":"add","path":"/a","value":"\\ud83d"}]',
  ];
  for (const p of patches) {
    const mid = newUuid();
    const frame = `{"type":"update_document","patch":{"document_id":"${D}","patch":${p}},"mutation_id":"${mid}"}`;
    await expectError(t, frame, 'invalid_patch', mid, `patch ${p}`);
  }
  // A proper surrogate pair is ordinary text.
  const emoji = await c.create({ s: '\ud83d\ude00' });
  t.equal(emoji.sync_revision, 1, 'a surrogate pair is accepted');
  await assertTargetUntouched(t);
});

t.test("another user's or application's document: not found for update/delete, exists for create, and untouched", async (t) => {
  const b = await TestClient.connect(server.url, bob);
  const e = await TestClient.connect(server.url, aliceElsewhere);
  clients.push(b, e);
  const secret = 'bob-private-content-marker';
  const bobDoc = await b.create({ title: secret, v: 1 });
  const elsewhereDoc = await e.create({ title: secret, v: 2 });
  t.not(e.userId, c.userId, 'same email in another application is another user');
  for (const [label, id] of [
    ['same application, other user', bobDoc.document_id],
    ['other application', elsewhereDoc.document_id],
  ] as const) {
    const probes: [string, Record<string, unknown>, ErrorCode][] = [
      ['update', { type: 'update_document', patch: { document_id: id, patch: [{ op: 'replace', path: '/v', value: 666 }] } }, 'document_not_found'],
      ['update with base_revision', { type: 'update_document', patch: { document_id: id, patch: [{ op: 'replace', path: '/v', value: 666 }] }, base_revision: 1 }, 'document_not_found'],
      ['update with content_hash', { type: 'update_document', patch: { document_id: id, patch: [{ op: 'remove', path: '/title' }], content_hash: bobDoc.content_hash } }, 'document_not_found'],
      ['delete', { type: 'delete_document', document_id: id }, 'document_not_found'],
      ['delete with base_revision', { type: 'delete_document', document_id: id, base_revision: 1 }, 'document_not_found'],
      ['create', { type: 'create_document', document: { id, content: { stolen: true } } }, 'document_exists'],
      ['create with base_revision', { type: 'create_document', document: { id, content: { stolen: true } }, base_revision: 1 }, 'document_exists'],
    ];
    for (const [what, msg, code] of probes) {
      const mid = newUuid();
      const err = await expectError(t, JSON.stringify({ ...msg, mutation_id: mid }), code, mid, `${label}: ${what}`);
      t.notMatch(err.message, secret, `${label}: ${what} reveals no content`);
    }
  }
  const rows = await tdb.db.query<{ id: string; user_id: string; content: unknown; sync_revision: number; deleted_at: Date | null; title: string }>(
    'SELECT id, user_id, content, sync_revision, deleted_at, title FROM documents WHERE id = ANY($1::uuid[]) ORDER BY sync_revision, id',
    [[bobDoc.document_id, elsewhereDoc.document_id]],
  );
  const byId = new Map(rows.rows.map((r) => [r.id, r]));
  t.same(byId.get(bobDoc.document_id), { id: bobDoc.document_id, user_id: b.userId, content: { title: secret, v: 1 }, sync_revision: 1, deleted_at: null, title: secret }, "bob's document unchanged");
  t.same(byId.get(elsewhereDoc.document_id), { id: elsewhereDoc.document_id, user_id: e.userId, content: { title: secret, v: 2 }, sync_revision: 1, deleted_at: null, title: secret }, "the other application's document unchanged");
  const events = await tdb.db.query<{ user_id: string; document_id: string; event_type: string }>(
    'SELECT user_id, document_id, event_type FROM change_events WHERE document_id = ANY($1::uuid[]) ORDER BY user_id',
    [[bobDoc.document_id, elsewhereDoc.document_id]],
  );
  t.same(
    events.rows.map((r) => [r.document_id, r.user_id, r.event_type]).sort(),
    [
      [bobDoc.document_id, b.userId, 'create'],
      [elsewhereDoc.document_id, e.userId, 'create'],
    ].sort(),
    'only the owners ever wrote these documents',
  );
  const conflicts = await tdb.db.query('SELECT 1 FROM conflicts WHERE document_id = ANY($1::uuid[])', [[bobDoc.document_id, elsewhereDoc.document_id]]);
  t.equal(conflicts.rows.length, 0, 'no conflict rows recorded against them');
  // Nor did anything reach the owners' connections.
  await b.ping();
  await e.ping();
  t.same(b.received, [], 'bob received nothing');
  t.same(e.received, [], 'the other application received nothing');
});

t.test('a burst of 500 bad frames leaves the server healthy', async (t) => {
  const kinds: (() => string | Buffer)[] = [
    () => '{',
    () => '[1,2,3]',
    () => '{"type":"nope"}',
    () => '{"type":"get_changes_since","last_sequence":"x"}',
    () => Buffer.from('binary'),
    () => `{"type":"create_document","document":{"id":"${newUuid()}","content":{"__proto__":{}}},"mutation_id":"${newUuid()}"}`,
    () => `{"type":"update_document","patch":{"document_id":"${D}","patch":[{"op":"remove","path":"/missing"}]},"mutation_id":"${newUuid()}"}`,
    () => `{"type":"delete_document","document_id":"${newUuid()}","mutation_id":"${newUuid()}"}`,
  ];
  const N = 512;
  const errors: Promise<ServerMessage>[] = [];
  for (let i = 0; i < N; i++) errors.push(c.next((m) => m.type === 'error', 30_000));
  for (let i = 0; i < N; i++) {
    const f = kinds[i % kinds.length]!();
    if (typeof f === 'string') c.send(f);
    else c.ws.send(f, { binary: true });
  }
  const got = (await Promise.all(errors)) as ServerMessageOf<'error'>[];
  const codes = new Map<string, number>();
  for (const e of got) codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
  const per = N / kinds.length;
  t.same(
    Object.fromEntries([...codes].sort()),
    { document_not_found: per, invalid_message: per * 6, invalid_patch: per },
    'every bad frame earned exactly its error',
  );
  await stillUsable(t);
  const health = await fetch(`${server.httpUrl}/health`);
  t.equal(health.status, 200, 'GET /health 200 after the burst');
  await assertTargetUntouched(t);
});
