/**
 * Hostile frames against one real server.
 *
 * 1. The hostile patch forms, one by one: `__proto__` and `constructor` keys, 2^60, 1e400, U+0000,
 *    a lone surrogate, a 10,000-deep value and a 900 KB string, as an operation's value, as a
 *    member the operation does not know, in a create's content and (where a key) in a pointer.
 *    Each gets its specific client-error code, never server_error; a member the operation does not
 *    know is either refused the same way or dropped before anything is stored or pushed.
 * 2. A seeded fuzzer: FRAMES generated frames (random structural and textual mutations of valid
 *    messages, the forms above, pointers, numbers, depth, size, binary frames, invalid UTF-8,
 *    frames over 16 MiB, other users' and other applications' ids) from four attacker
 *    connections. Every frame must be answered (exactly one answer, echoing a well-formed
 *    mutation_id) or, for invalid UTF-8 and frames over 16 MiB only, the connection dropped
 *    (1006); no server_error ever; the server alive and serving throughout.
 * 3. Two bystanders — another user of the same application, and a user of the same email in
 *    another application — whose rows in every table stay byte-for-byte unchanged, and whose open
 *    connections receive nothing.
 *
 * Short: 10,000 frames. Long (FAULTS_LONG=1): 100,000. FAULTS_SEED=n replays a run.
 */
import t from 'tap';
import { newUuid, type ServerMessage } from '@json-sync/core';
import { startTestServer, TestClient, type Identity } from '@json-sync/test-support';
import { checkDense, health, LONG, Rng, runSeed, tail, within } from './support.js';

const FRAMES = LONG ? 100_000 : 10_000;
const ATTACKERS = 4;
/** Frames that must end the connection (1006): at least this many of each per run. */
const INVALID_UTF8_FRAMES = LONG ? 30 : 6;
const OVER_16MIB_FRAMES = LONG ? 6 : 2;

const seed = runSeed();
const ts = await startTestServer({ prefix: 'faults_fuzz' });
const other = await ts.tdb.credentials('other app');
const app1 = { apiKey: ts.apiKey, secret: ts.secret };
const app2 = { apiKey: other.apiKey, secret: other.secret };
const open: TestClient[] = [];
t.teardown(async () => {
  for (const c of open) c.close();
  await ts.teardown();
});
t.comment(`seed ${seed} (FAULTS_SEED=${seed} replays this run)`);
const rng = new Rng(seed);

async function connect(id: Identity): Promise<TestClient> {
  const c = await TestClient.connect(ts.url, id);
  // A socket the server drops while we write (a frame over 16 MiB) reports an error: expected here.
  c.ws.on('error', () => {});
  open.push(c);
  return c;
}

// ---- bystanders: their rows must come out byte-for-byte unchanged ------------------------------

const bob = await connect({ email: 'bob@example.com', ...app1 });
const bob2 = await connect({ email: 'bob@example.com', ...app1 });
// Same email as the first attacker, other application: a different user who must stay out of reach.
const aliceElsewhere = await connect({ email: 'alice@example.com', ...app2 });
const bystanderDocs: string[] = [];
const bystanderMutations: string[] = [];
for (const c of [bob, aliceElsewhere]) {
  for (let i = 0; i < 5; i++) {
    const mid = rng.uuid();
    const r = await c.create({ title: `${c === bob ? 'bob' : 'alice elsewhere'} ${i}`, n: i, tags: ['a', 'b'], nested: { k: i } }, rng.uuid());
    bystanderDocs.push(r.document_id);
    const u = await c.mutate({ type: 'update_document', patch: { document_id: r.document_id, patch: [{ op: 'replace', path: '/n', value: i + 10 }] }, base_revision: 1, mutation_id: mid });
    if (u.type !== 'document_updated_response') throw new Error(`setup update failed: ${JSON.stringify(u)}`);
    bystanderMutations.push(mid);
  }
  const del = await c.mutate({ type: 'delete_document', document_id: bystanderDocs.at(-1)!, mutation_id: rng.uuid() });
  if (del.type !== 'document_deleted_response') throw new Error(`setup delete failed: ${JSON.stringify(del)}`);
  await c.request({ type: 'ack_changes', up_to_sequence: 3 }, (m) => m.type === 'changes_acknowledged');
}
// A conflict row for bob: a stale update from his second connection.
const stale = await bob2.mutate({ type: 'update_document', patch: { document_id: bystanderDocs[0]!, patch: [{ op: 'replace', path: '/n', value: -1 }] }, base_revision: 1, mutation_id: rng.uuid() });
if (stale.type !== 'conflict_detected') throw new Error(`setup conflict failed: ${JSON.stringify(stale)}`);
bob2.close();
await bob2.closed;
bob.received.splice(0);
aliceElsewhere.received.splice(0);
const bystanderUsers = [bob.userId, aliceElsewhere.userId];

/** Every row of every table that belongs to the bystanders, as PostgreSQL's own JSON text. */
async function bystanderRows(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const users = JSON.stringify(bystanderUsers);
  const tables: [string, string][] = [
    ['users', 'SELECT row_to_json(x)::text AS r FROM users x WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY id'],
    ['documents', 'SELECT row_to_json(x)::text AS r FROM documents x WHERE user_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY id'],
    ['change_events', 'SELECT row_to_json(x)::text AS r FROM change_events x WHERE user_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY user_id, sequence'],
    ['mutations', 'SELECT row_to_json(x)::text AS r FROM mutations x WHERE user_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY user_id, mutation_id'],
    ['conflicts', 'SELECT row_to_json(x)::text AS r FROM conflicts x WHERE user_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY id'],
    ['client_acks', 'SELECT row_to_json(x)::text AS r FROM client_acks x WHERE user_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY user_id, client_id'],
  ];
  for (const [name, sql] of tables) out[name] = (await ts.tdb.db.query<{ r: string }>(sql, [users])).rows.map((x) => x.r);
  return out;
}
const before = await bystanderRows();
if (before.documents!.length !== 10 || before.conflicts!.length !== 1 || before.client_acks!.length !== 2) {
  throw new Error(`bystander setup incomplete: ${JSON.stringify(Object.fromEntries(Object.entries(before).map(([k, v]) => [k, v.length])))}`);
}

// ---- raw JSON text building ----------------------------------------------------------------------

/** JSON text spliced in verbatim (what JSON.stringify cannot write: 1e400, lone surrogates, `__proto__` keys). */
class Raw {
  constructor(readonly text: string) {}
}
/** An object as its list of members, so keys may repeat or be `__proto__`. */
class Obj {
  constructor(readonly members: [string, Node][]) {}
  get(key: string): Node | undefined {
    return this.members.find(([k]) => k === key)?.[1];
  }
}
type Node = string | number | boolean | null | Raw | Obj | Node[];

function text(n: Node): string {
  if (n instanceof Raw) return n.text;
  if (n instanceof Obj) return `{${n.members.map(([k, v]) => `${JSON.stringify(k)}:${text(v)}`).join(',')}}`;
  if (Array.isArray(n)) return `[${n.map(text).join(',')}]`;
  return JSON.stringify(n);
}

const obj = (o: Record<string, Node>) => new Obj(Object.entries(o));
const deep = (depth: number, open = '[', close = ']', inner = '1') => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** The hostile forms of the issue, as JSON values. */
const FORMS: [string, string][] = [
  ['__proto__ key', '{"__proto__":{"polluted":true}}'],
  ['constructor key', '{"constructor":{"prototype":{"polluted":true}}}'],
  ['2^60', '1152921504606846976'],
  ['1e400', '1e400'],
  ['U+0000', '"\\u0000"'],
  ['lone surrogate', '"\\ud800"'],
  ['10,000-deep value', deep(10_000)],
  ['900 KB string', `"${'x'.repeat(900_000)}"`],
];

// ---- 1. the hostile patch forms, one by one ------------------------------------------------------

const CLIENT_CODES = new Set(['invalid_patch', 'invalid_message', 'message_too_large']);

t.test('each hostile patch form gets its specific client-error code, never server_error', async (t) => {
  const email = 'forms@example.com';
  const c = await connect({ email, ...app1 });
  const watcher = await connect({ email, ...app1 });
  const target = await c.create({ title: 'target', n: 1, list: [1, 2] }, rng.uuid());
  const D = target.document_id;
  let revision = 1;
  let content: Record<string, unknown> = { title: 'target', n: 1, list: [1, 2] };
  const row = async () => {
    const r = await ts.tdb.db.query<{ content: unknown; sync_revision: number }>('SELECT content, sync_revision FROM documents WHERE id = $1', [D]);
    return r.rows[0];
  };

  const expectCode = async (label: string, frame: string, code: string, mid: string) => {
    const reply = await c.request(frame, (m) => (m as { mutation_id?: string }).mutation_id === mid || m.type === 'error', 20_000);
    t.same(
      { type: reply.type, code: (reply as { code?: string }).code, mutation_id: (reply as { mutation_id?: string }).mutation_id },
      { type: 'error', code, mutation_id: mid },
      `${label}: error ${code} echoing the mutation_id`,
    );
  };
  const update = (ops: string, mid: string) => `{"type":"update_document","patch":{"document_id":"${D}","patch":${ops}},"mutation_id":"${mid}"}`;

  for (const [form, value] of FORMS) {
    // As the value of add, replace and test.
    for (const op of ['add', 'replace', 'test']) {
      const mid = rng.uuid();
      // A large string is a valid value: it fails only when the document would grow too large (a test just does not match).
      const code = form === '900 KB string' && op !== 'test' ? 'message_too_large' : 'invalid_patch';
      await expectCode(`${op} with ${form} as its value`, update(`[{"op":"${op}","path":"/n","value":${value}}]`, mid), code, mid);
    }
    // In place of the operation's own members: op, path, from.
    for (const [member, op] of [
      ['op', `{"op":${value},"path":"/n","value":1}`],
      ['path', `{"op":"add","path":${value},"value":1}`],
      ['from', `{"op":"move","from":${value},"path":"/n"}`],
    ] as const) {
      const mid = rng.uuid();
      await expectCode(`${form} as the operation's "${member}"`, update(`[${op}]`, mid), 'invalid_patch', mid);
    }
    // In a create's content.
    {
      const mid = rng.uuid();
      const code = form === '900 KB string' ? 'message_too_large' : 'invalid_message';
      await expectCode(`create with ${form} in its content`, `{"type":"create_document","document":{"id":"${rng.uuid()}","content":{"title":"x","v":${value}}},"mutation_id":"${mid}"}`, code, mid);
    }
    // As a member the operation does not know: refused with a client code, or dropped before anything is stored or pushed.
    for (const member of ['__proto__', 'constructor', 'junk']) {
      const mid = rng.uuid();
      const label = `${form} as the unknown member "${member}" of an add`;
      const reply = await c.request(update(`[{"op":"add","path":"/m","value":${revision},"${member}":${value}}]`, mid), (m) => (m as { mutation_id?: string }).mutation_id === mid || m.type === 'error', 20_000);
      if (reply.type === 'error') {
        t.ok(CLIENT_CODES.has(reply.code), `${label}: refused with a client-error code (${reply.code})`);
        t.equal(reply.mutation_id, mid, `${label}: the error echoes the mutation_id`);
        t.same(await row(), { content, sync_revision: revision }, `${label}: nothing written`);
      } else {
        const clean = [{ op: 'add', path: '/m', value: revision }];
        content = { ...content, m: revision };
        revision++;
        t.same({ type: reply.type, sync_revision: (reply as { sync_revision?: number }).sync_revision }, { type: 'document_updated_response', sync_revision: revision }, `${label}: applied with the member dropped`);
        const stored = await ts.tdb.db.query<{ forward_patch: unknown; text: string }>('SELECT forward_patch, forward_patch::text AS text FROM change_events WHERE mutation_id = $1', [mid]);
        t.same(stored.rows.map((r) => r.forward_patch), [clean], `${label}: the log holds the known members only`);
        t.notMatch(stored.rows[0]?.text ?? '', /__proto__|constructor|junk|polluted/, `${label}: nothing of the member in the stored text`);
        const push = await watcher.next((m) => (m as { mutation_id?: string }).mutation_id === mid, 10_000).catch(() => null);
        t.same((push as { patch?: unknown } | null)?.patch, clean, `${label}: the push to the user's other connection carries the known members only`);
        t.same(await row(), { content, sync_revision: revision }, `${label}: the document holds the known members' change`);
      }
    }
  }
  // Keys as pointer tokens.
  for (const [label, pointer] of [
    ['__proto__ pointer', '/__proto__/polluted'],
    ['constructor pointer', '/constructor/prototype'],
    ['prototype pointer', '/x/prototype'],
    ['U+0000 pointer', '/a\\u0000b'],
    ['lone surrogate pointer', '/\\ud800'],
  ] as const) {
    const mid = rng.uuid();
    await expectCode(label, update(`[{"op":"add","path":"${pointer}","value":1}]`, mid), 'invalid_patch', mid);
    const from = rng.uuid();
    await expectCode(`${label} as a move's from`, update(`[{"op":"move","from":"${pointer}","path":"/n"}]`, from), 'invalid_patch', from);
  }
  t.same(await row(), { content, sync_revision: revision }, `the target is at revision ${revision}: nothing but the dropped-member updates applied`);
  t.same(
    c.all('error').filter((e) => e.code === 'server_error'),
    [],
    'no server_error',
  );
  await c.ping();
  t.equal(ts.server.child.exitCode, null, 'server process alive');
});

// ---- 2. the fuzzer -------------------------------------------------------------------------------

const ANSWERS = new Set([
  'error',
  'pong',
  'changes',
  'changes_acknowledged',
  'sync_complete',
  'document_created_response',
  'document_updated_response',
  'document_deleted_response',
  'conflict_detected',
]);
const MUTATION_TYPES = new Set(['create_document', 'update_document', 'delete_document']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Frame {
  kind: string;
  data: string | Buffer;
  binary?: boolean;
  /** Invalid UTF-8 and frames over 16 MiB: uWS drops the connection (1006) instead of answering. */
  expectClose?: boolean;
}

/** One attacker: a connection (replaced when dropped), its documents and mutation ids, its generator. */
class Attacker {
  client!: TestClient;
  answers: ServerMessage[] = [];
  private wake: (() => void) | null = null;
  closeCode: number | null = null;
  readonly docs: string[] = [];
  readonly mids: string[] = [];
  /** Success replies: mutation_id → the sequence they named. */
  readonly applied = new Map<string, number>();
  readonly problems: string[] = [];
  readonly codes = new Map<string, number>();
  frames = 0;
  /** Connections dropped with 1006 after an invalid-UTF-8 or over-16-MiB frame, and how many such frames were sent. */
  closes = 0;
  expectedCloses = 0;
  reconnects = 0;

  constructor(
    readonly id: Identity,
    readonly rng: Rng,
    readonly n: number,
  ) {}

  async connect(): Promise<void> {
    this.client = await connect(this.id);
    this.answers = [];
    this.closeCode = null;
    this.client.ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as ServerMessage;
      this.client.received.splice(0);
      if (!ANSWERS.has(m.type)) return;
      this.answers.push(m);
      this.wake?.();
    });
    this.client.ws.on('close', (code) => {
      this.closeCode = code;
      this.wake?.();
    });
  }

  /** The next answer, or the close code when the connection ends first, or 'timeout'. */
  async next(timeoutMs = 15_000): Promise<ServerMessage | number | 'timeout'> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (this.answers.length > 0) return this.answers.shift()!;
      if (this.closeCode !== null) return this.closeCode;
      const left = until - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  problem(i: number, f: Frame, what: string): void {
    const shown = typeof f.data === 'string' ? f.data : `<${f.data.length} bytes ${f.data.subarray(0, 24).toString('hex')}…>`;
    this.problems.push(`attacker ${this.n} frame ${i} (${f.kind}): ${what} — frame ${shown.length > 300 ? `${shown.slice(0, 300)}… (${shown.length} chars)` : shown}`);
  }
}

// ---- generation ------------------------------------------------------------------------------------

const HOSTILE_VALUES: (() => string)[] = [
  ...FORMS.filter(([form]) => form !== '900 KB string' && form !== '10,000-deep value').map(([, v]) => () => v),
  () => '{"prototype":{"polluted":true}}',
  () => '{"a":{"__proto__":[1]}}',
  () => '-1152921504606846976',
  () => '9007199254740992',
  () => '9007199254740993',
  () => '-9007199254740993',
  () => '123456789012345678901234567890',
  () => '-1e400',
  () => '1e-400',
  () => '-0',
  () => '0.5',
  () => '1.7976931348623157e308',
  () => '"\\udc00"',
  () => '"x\\ud800\\ud800y"',
  () => '"a\\u0000"',
  () => `"${'é'.repeat(200)}"`,
  () => '"\\u202e\\ufeff\\uffff"',
  () => '{"a":1,"a":2}',
  () => deep(65),
  () => deep(64),
  () => deepObject(65),
  () => deep(1000),
  () => '[]',
  () => '{}',
  () => 'null',
  () => 'true',
  () => '""',
  () => '"x"',
  () => '0',
  () => '-1',
  () => '4294967296',
  () => '2147483648',
];
const RARE_VALUES: (() => string)[] = [() => deep(10_000), () => deepObject(10_000), () => `"${'x'.repeat(900_000)}"`, () => `[${Array.from({ length: 2000 }, () => '1').join(',')}]`];

const POINTERS = ['', '/', '/n', '/title', '/list', '/list/0', '/list/-', '/list/99999999999999999999', '/list/01', '/list/-1', '/a~', '/a~2', '/~1~0', '/nested/k', '/nested/k/deeper', '//', 'n', '/__proto__', '/constructor', '/prototype', '/x/__proto__/y', '/\\u0000', '/\\ud800', `/${'a/'.repeat(100)}b`, `/${'x'.repeat(5000)}`];
const OPS = ['add', 'remove', 'replace', 'move', 'copy', 'test', 'ADD', 'frobnicate', '', '__proto__'];

function hostileValue(r: Rng): Raw {
  return new Raw(r.chance(0.01) ? r.pick(RARE_VALUES)() : r.pick(HOSTILE_VALUES)());
}

function plainValue(r: Rng, depth = 0): Node {
  switch (r.int(0, depth > 2 ? 3 : 6)) {
    case 0:
      return r.int(-1000, 1000);
    case 1:
      return `s${r.int(0, 99)}`;
    case 2:
      return r.chance(0.5);
    case 3:
      return null;
    case 4:
      return Array.from({ length: r.int(0, 3) }, () => plainValue(r, depth + 1));
    default:
      return obj(Object.fromEntries(Array.from({ length: r.int(0, 3) }, (_, i) => [`k${i}`, plainValue(r, depth + 1)])));
  }
}

function value(r: Rng): Node {
  return r.chance(0.25) ? hostileValue(r) : plainValue(r);
}

/** A document id: mostly the attacker's own, sometimes a bystander's, another application's, fresh, or malformed. */
function docId(a: Attacker): Node {
  const r = a.rng;
  const x = r.next();
  if (x < 0.5 && a.docs.length > 0) return r.pick(a.docs);
  if (x < 0.62) return r.pick(bystanderDocs);
  if (x < 0.8) return r.uuid();
  if (x < 0.85 && a.docs.length > 0) return r.pick(a.docs).toUpperCase();
  if (x < 0.9) return r.pick(['', 'not-a-uuid', '00000000-0000-0000-0000-000000000000', `${r.uuid()} `, `{${r.uuid()}}`]);
  return hostileValue(r);
}

/** A mutation id: mostly fresh, sometimes one of the attacker's own again (a replay, or reused for another payload), a bystander's, or malformed. */
function mutationId(a: Attacker): Node {
  const r = a.rng;
  const x = r.next();
  if (x < 0.8) {
    const id = r.uuid();
    a.mids.push(id);
    return id;
  }
  if (x < 0.9 && a.mids.length > 0) return r.pick(a.mids);
  if (x < 0.95) return r.pick(bystanderMutations);
  return r.chance(0.5) ? r.uuid().toUpperCase() : hostileValue(r);
}

function patchOp(r: Rng, hostile: boolean): Obj {
  const op = hostile && r.chance(0.2) ? r.pick(OPS) : r.pick(OPS.slice(0, 6));
  const path = hostile && r.chance(0.3) ? r.pick(POINTERS) : r.pick(['/n', '/title', '/list/0', '/list/-', '/nested/k', `/f${r.int(0, 20)}`]);
  const members: [string, Node][] = [['op', op], ['path', path]];
  if (op === 'move' || op === 'copy' || r.chance(0.05)) members.push(['from', hostile && r.chance(0.3) ? r.pick(POINTERS) : r.pick(['/n', '/title', '/list'])]);
  if (op === 'add' || op === 'replace' || op === 'test' || r.chance(0.05)) members.push(['value', hostile && r.chance(0.4) ? hostileValue(r) : plainValue(r)]);
  // The issue's forms as members the operation does not know.
  if (hostile && r.chance(0.25)) members.push([r.pick(['__proto__', 'constructor', 'prototype', 'junk', 'value2', 'op']), r.chance(0.02) ? new Raw(`"${'x'.repeat(900_000)}"`) : hostileValue(r)]);
  return new Obj(members);
}

/** A message of every client type, well formed or nearly. */
function validMessage(a: Attacker): Obj {
  const r = a.rng;
  const kind = r.int(0, 99);
  const base = (): [string, Node][] => (r.chance(0.3) ? [['base_revision', r.pick<Node>([1, 2, r.int(1, 50), 2 ** 31 - 1])]] : []);
  if (kind < 30) {
    const id = r.chance(0.8) ? r.uuid() : docId(a);
    const content = obj({ title: `t${r.int(0, 999)}`, n: r.int(0, 100), list: [1, 2, 3], nested: obj({ k: 'v' }), ...(r.chance(0.3) ? { x: value(r) } : {}) });
    return new Obj([['type', 'create_document'], ['document', obj({ id, content })], ...base(), ['mutation_id', mutationId(a)]]);
  }
  if (kind < 60) {
    const ops = Array.from({ length: r.chance(0.9) ? r.int(1, 3) : r.int(0, 40) }, () => patchOp(r, r.chance(0.5)));
    const patch: [string, Node][] = [['document_id', docId(a)], ['patch', ops]];
    if (r.chance(0.1)) patch.push(['content_hash', r.pick<Node>(['0'.repeat(64), 'f'.repeat(64), 'abc'])]);
    return new Obj([['type', 'update_document'], ['patch', new Obj(patch)], ...base(), ['mutation_id', mutationId(a)]]);
  }
  if (kind < 70) return new Obj([['type', 'delete_document'], ['document_id', docId(a)], ...base(), ['mutation_id', mutationId(a)]]);
  if (kind < 78) return obj({ type: 'get_changes_since', last_sequence: r.pick<Node>([0, 1, r.int(0, 200), 2 ** 53 - 1]), ...(r.chance(0.5) ? { limit: r.pick<Node>([1, 10, 500, 100000]) } : {}) });
  if (kind < 84) return obj({ type: 'ack_changes', up_to_sequence: r.pick<Node>([0, 1, r.int(0, 200), 2 ** 40]) });
  if (kind < 87) return obj({ type: 'request_full_sync' });
  if (kind < 95) return obj({ type: 'ping' });
  const auth = a.client.authMessage(r.chance(0.5) ? a.id : { email: 'bob@example.com', ...app1 });
  return new Obj(Object.entries(auth) as [string, Node][]);
}

/** Changes one random place of a message tree: a value replaced, a member dropped, added, renamed or duplicated. */
function mutateTree(r: Rng, n: Node): Node {
  if (n instanceof Obj) {
    const members = [...n.members];
    const x = r.next();
    if (members.length > 0 && x < 0.45) {
      const i = r.int(0, members.length - 1);
      members[i] = [members[i]![0], mutateTree(r, members[i]![1])];
    } else if (members.length > 0 && x < 0.6) members.splice(r.int(0, members.length - 1), 1);
    else if (x < 0.75) members.push([r.pick(['__proto__', 'constructor', 'type', 'mutation_id', 'extra', '', 'document', 'patch']), value(r)]);
    else if (members.length > 0 && x < 0.85) {
      const i = r.int(0, members.length - 1);
      members[i] = [r.pick(['Type', 'type ', '__proto__', 'id', 'constructor', `k${r.int(0, 9)}`]), members[i]![1]];
    } else if (members.length > 0) members.push(r.pick(members));
    return new Obj(members);
  }
  if (Array.isArray(n)) {
    const items = [...n];
    const x = r.next();
    if (items.length > 0 && x < 0.5) {
      const i = r.int(0, items.length - 1);
      items[i] = mutateTree(r, items[i]!);
    } else if (items.length > 0 && x < 0.7) items.splice(r.int(0, items.length - 1), 1);
    else items.push(r.chance(0.5) ? value(r) : new Raw(text(patchOp(r, true))));
    return items;
  }
  // A leaf: replaced by something of another kind.
  const x = r.next();
  if (x < 0.5) return hostileValue(r);
  if (x < 0.7) return plainValue(r);
  if (typeof n === 'string' && x < 0.85) return r.chance(0.5) ? n.toUpperCase() : n.slice(0, r.int(0, n.length));
  if (typeof n === 'number') return r.pick<Node>([n + 1, -n, n * 2 ** 40, 0.5, new Raw('1e400')]);
  return r.pick<Node>([null, [], obj({}), '', 0, true]);
}

/** Byte-level damage to JSON text: cut, spliced, characters swapped or inserted. */
function mutateText(r: Rng, s: string): string {
  const at = () => r.int(0, s.length);
  switch (r.int(0, 7)) {
    case 0:
      return s.slice(0, at());
    case 1: {
      const i = at();
      return s.slice(0, i) + r.pick(['{', '}', '[', ']', ',', ':', '"', '\\', '\\u', '\\ud800', '\u0000', 'null', '1e400', ' ', '\n', '\ufeff', '\ud800']) + s.slice(i);
    }
    case 2: {
      const i = at();
      return s.slice(0, i) + s.slice(i + r.int(1, 10));
    }
    case 3: {
      const i = at();
      const j = at();
      return s.slice(0, Math.min(i, j)) + s.slice(Math.min(i, j), Math.max(i, j)).repeat(r.int(2, 4)) + s.slice(Math.max(i, j));
    }
    case 4:
      return s.replace(/[0-9]/g, () => String(r.int(0, 9)));
    case 5:
      return s.replace(/"type":"[a-z_]+"/, `"type":"${r.pick(['create_document', 'update_document', 'delete_document', 'ping', 'authenticate', 'get_changes_since', 'ack_changes', 'request_full_sync', 'pong', 'error', 'changes'])}"`);
    case 6:
      return `${s}${r.pick([' ', '\n', 'x', '{}', ',', ']'])}`;
    default:
      return ` \t\n${s}`;
  }
}

function generate(a: Attacker, i: number, special: Map<number, 'utf8' | 'huge'>): Frame {
  const r = a.rng;
  const forced = special.get(i);
  if (forced === 'utf8') {
    const valid = Buffer.from(text(validMessage(a)));
    const bad = r.pick([Buffer.from([0xff]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0xe2, 0x82])]);
    const at = r.int(0, valid.length);
    return { kind: 'invalid UTF-8', data: Buffer.concat([valid.subarray(0, at), bad, valid.subarray(at)]), expectClose: true };
  }
  if (forced === 'huge') return { kind: 'over 16 MiB', data: `{"type":"ping","pad":"${'x'.repeat(16 * 1024 * 1024)}"}`, expectClose: true };
  const x = r.next();
  if (x < 0.2) return { kind: 'valid', data: text(validMessage(a)) };
  if (x < 0.55) {
    let tree: Node = validMessage(a);
    for (let k = r.int(1, 3); k > 0; k--) tree = mutateTree(r, tree);
    return { kind: 'tree mutation', data: text(tree) };
  }
  if (x < 0.7) {
    // Patches made of the hostile forms and pointers.
    const ops = Array.from({ length: r.int(1, 4) }, () => patchOp(r, true));
    const patch = new Obj([['document_id', docId(a)], ['patch', r.chance(0.95) ? ops : hostileValue(r)]]);
    return { kind: 'hostile patch', data: text(new Obj([['type', 'update_document'], ['patch', patch], ['mutation_id', mutationId(a)]])) };
  }
  if (x < 0.86) return { kind: 'text mutation', data: mutateText(r, text(validMessage(a))) };
  if (x < 0.9) return { kind: 'hostile create', data: text(new Obj([['type', 'create_document'], ['document', obj({ id: docId(a), content: r.chance(0.7) ? obj({ title: 't', v: hostileValue(r) }) : hostileValue(r) })], ['mutation_id', mutationId(a)]])) };
  if (x < 0.93) {
    const valid = Buffer.from(text(validMessage(a)));
    return { kind: 'binary', data: r.chance(0.5) ? valid : Buffer.from(Array.from({ length: r.int(0, 64) }, () => r.int(0, 255))), binary: true };
  }
  if (x < 0.95) return { kind: 'not an object', data: r.pick(['', ' ', 'null', '[]', '"ping"', '42', 'true', '[{"type":"ping"}]', deep(10_000), deepObject(2000), '{"type":"ping"}{"type":"ping"}']) };
  if (x < 0.96) {
    // Just over the frame limit: message_too_large.
    return { kind: 'over max_frame_bytes', data: `{"type":"ping","pad":"${'y'.repeat(1024 * 1024 + r.int(0, 2000))}"}` };
  }
  if (x < 0.98) {
    // Numbers and depth in odd places of an otherwise valid message.
    const n = r.pick(['1e400', '-0', '0.0', '1E2', '9007199254740993', '-1', '1.5', '1152921504606846976', '00', '0x10']);
    return { kind: 'odd numbers', data: r.pick([`{"type":"get_changes_since","last_sequence":${n}}`, `{"type":"ack_changes","up_to_sequence":${n}}`, `{"type":"delete_document","document_id":"${r.pick(bystanderDocs)}","base_revision":${n},"mutation_id":"${r.uuid()}"}`, `{"type":"get_changes_since","last_sequence":0,"limit":${n}}`]) };
  }
  return { kind: 'deep message', data: `{"type":"update_document","patch":{"document_id":"${a.docs[0] ?? r.uuid()}","patch":[{"op":"add","path":"/d","value":${r.chance(0.5) ? deep(r.int(60, 10_000)) : deepObject(r.int(60, 3000))}}]},"mutation_id":"${r.uuid()}"}` };
}

/**
 * The mutation_id an answer may carry, from the frame's own text (docs/protocol.md): a well-formed
 * one is echoed (always, for a mutation; on errors, for other messages); a mutation without the
 * member gets one the server assigns; otherwise none.
 */
type Echo = { must: string } | { may: string } | 'assigned' | null;
function echoExpected(f: Frame): Echo {
  if (typeof f.data !== 'string' || f.binary || Buffer.byteLength(f.data) > 1024 * 1024) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(f.data);
  } catch {
    return null;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const { type, mutation_id } = parsed as { type?: unknown; mutation_id?: unknown };
  const mutation = typeof type === 'string' && MUTATION_TYPES.has(type);
  if (typeof mutation_id === 'string' && UUID.test(mutation_id)) return mutation ? { must: mutation_id } : { may: mutation_id };
  if (mutation && !Object.prototype.hasOwnProperty.call(parsed, 'mutation_id')) return 'assigned';
  return null;
}

t.test(`fuzzer: ${FRAMES} hostile frames — every one answered or cleanly closed, no server_error, bystanders untouched`, async (t) => {
  const started = Date.now();
  const attackers = Array.from({ length: ATTACKERS }, (_, n) => new Attacker({ email: n === 0 ? 'alice@example.com' : `attacker${n}@example.com`, ...app1 }, new Rng(rng.int(0, 2 ** 32 - 1)), n));
  const perAttacker = Math.ceil(FRAMES / ATTACKERS);
  // Frames that end the connection, spread over the run.
  const specials = attackers.map(() => new Map<number, 'utf8' | 'huge'>());
  const plan = (k: number, what: 'utf8' | 'huge') => {
    const m = specials[k % ATTACKERS]!;
    let i: number;
    do i = rng.int(0, perAttacker - 1);
    while (m.has(i));
    m.set(i, what);
  };
  for (let k = 0; k < INVALID_UTF8_FRAMES; k++) plan(k, 'utf8');
  for (let k = 0; k < OVER_16MIB_FRAMES; k++) plan(k + 1, 'huge');

  const runOne = async (a: Attacker) => {
    await a.connect();
    // Some documents of its own to aim at.
    for (let k = 0; k < 5; k++) {
      const created = await a.client.create({ title: `attacker ${a.n} doc ${k}`, n: k, list: [1, 2, 3], nested: { k: 'v' } }, a.rng.uuid());
      a.docs.push(created.document_id);
      a.applied.set(created.mutation_id, created.sequence);
    }
    // Those replies were taken by the TestClient's own waiters; the answer queue starts here.
    a.answers = [];
    for (let i = 0; i < perAttacker; i++) {
      const f = generate(a, i, specials[a.n]!);
      a.frames++;
      if (typeof f.data === 'string' && !f.binary) a.client.ws.send(f.data);
      else a.client.ws.send(f.data, { binary: !!f.binary });
      const answer = await a.next();
      if (f.expectClose) {
        a.expectedCloses++;
        if (answer !== 1006) a.problem(i, f, `expected the connection dropped (1006), got ${typeof answer === 'object' ? JSON.stringify(answer).slice(0, 200) : answer}`);
        a.closes++;
      } else if (answer === 'timeout') {
        a.problem(i, f, 'no answer within 15 s');
      } else if (typeof answer === 'number') {
        a.problem(i, f, `connection closed (${answer}) instead of an answer`);
      } else {
        const key = answer.type === 'error' ? `error ${answer.code}` : answer.type;
        a.codes.set(key, (a.codes.get(key) ?? 0) + 1);
        if (answer.type === 'error' && answer.code === 'server_error') a.problem(i, f, `server_error: ${answer.message}`);
        const echo = echoExpected(f);
        const got = (answer as { mutation_id?: string }).mutation_id;
        if (echo === 'assigned') {
          if (got !== undefined && (!UUID.test(got) || a.mids.includes(got) || bystanderMutations.includes(got))) a.problem(i, f, `answer ${answer.type} carries ${got} as the server-assigned mutation_id: malformed or already in use`);
        } else if (echo !== null && 'must' in echo) {
          if (got !== echo.must) a.problem(i, f, `answer ${JSON.stringify(answer).slice(0, 200)} does not echo mutation_id ${echo.must}`);
        } else if (got !== undefined && (echo === null || got !== echo.may || answer.type !== 'error')) {
          a.problem(i, f, `answer ${answer.type} names mutation_id ${got}, which is not the frame's own well-formed one`);
        }
        if (answer.type === 'document_created_response') a.docs.push(answer.document_id);
        if (answer.type === 'document_created_response' || answer.type === 'document_updated_response' || answer.type === 'document_deleted_response') {
          const prev = a.applied.get(answer.mutation_id);
          if (prev !== undefined && prev !== answer.sequence) a.problem(i, f, `mutation ${answer.mutation_id} answered with sequence ${answer.sequence}, earlier ${prev}`);
          a.applied.set(answer.mutation_id, answer.sequence);
        }
      }
      if (a.closeCode !== null) {
        a.reconnects++;
        await a.connect();
      } else if (i % 100 === 99) {
        // Resynchronise: the next answer must be this pong, so no frame got two answers.
        a.client.ws.send('{"type":"ping"}');
        const pong = await a.next();
        if (typeof pong !== 'object' || pong.type !== 'pong') a.problem(i, { kind: 'sync ping', data: '{"type":"ping"}' }, `expected pong, got ${typeof pong === 'object' ? JSON.stringify(pong).slice(0, 200) : pong}`);
      }
      if (a.problems.length > 50) break;
    }
  };
  await within('the attackers to finish', Promise.all(attackers.map(runOne)), LONG ? 3_600_000 : 600_000);

  const frames = attackers.reduce((n, a) => n + a.frames, 0);
  const closes = attackers.reduce((n, a) => n + a.closes, 0);
  const codes = new Map<string, number>();
  for (const a of attackers) for (const [k, v] of a.codes) codes.set(k, (codes.get(k) ?? 0) + v);
  t.comment(`${frames} frames in ${((Date.now() - started) / 1000).toFixed(1)} s; answers: ${[...codes].sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => `${k} ${v}`).join(', ')}; dropped connections: ${closes}`);
  const problems = attackers.flatMap((a) => a.problems);
  t.same(problems.slice(0, 10), [], `every frame answered once (echoing a well-formed mutation_id), or dropped only for invalid UTF-8 / over 16 MiB; no server_error (${problems.length} problems)`);
  t.ok(frames >= FRAMES, `${frames} frames sent (at least ${FRAMES})`);
  const expectedCloses = attackers.reduce((n, a) => n + a.expectedCloses, 0);
  t.equal(expectedCloses, problems.length > 0 ? expectedCloses : INVALID_UTF8_FRAMES + OVER_16MIB_FRAMES, `${expectedCloses} invalid-UTF-8 or over-16-MiB frames sent (${INVALID_UTF8_FRAMES} + ${OVER_16MIB_FRAMES} planned)`);
  t.equal(closes, expectedCloses, `${closes} connections dropped (1006), one for each of them`);
  t.equal(codes.get('error server_error') ?? 0, 0, 'no server_error for any client input');
  t.ok((codes.get('error invalid_message') ?? 0) > 0 && (codes.get('error invalid_patch') ?? 0) > 0 && (codes.get('error message_too_large') ?? 0) > 0, 'the run reached invalid_message, invalid_patch and message_too_large');
  t.ok((codes.get('document_created_response') ?? 0) > 0 && (codes.get('document_updated_response') ?? 0) > 0, 'and valid changes that applied');

  // The server is alive and serving.
  t.equal(ts.server.child.exitCode, null, 'server process alive');
  t.equal(await health(ts.httpUrl), 200, '/health 200');
  const fresh = await connect({ email: 'after@example.com', ...app1 });
  const made = await fresh.create({ title: 'after the fuzz' }, newUuid());
  t.equal(made.sync_revision, 1, 'a new connection authenticates and commits a change');

  // The attackers' own logs: every applied change exactly once at the sequence its reply named.
  const log = new Map((await checkDense(t, ts.tdb.db, 'after the fuzz')).map((r) => [`${r.user_id} ${r.mutation_id}`, r.sequence]));
  const misplaced = attackers.flatMap((a) => [...a.applied].filter(([mid, seq]) => log.get(`${a.client.userId} ${mid}`) !== seq));
  t.same(misplaced.slice(0, 5), [], `every one of the ${attackers.reduce((n, a) => n + a.applied.size, 0)} success replies names the sequence the log holds`);
  if (!t.passing()) t.comment(`server stderr:\n${tail(ts.server.stderr(), 4000)}`);
});

// ---- 3. the bystanders ---------------------------------------------------------------------------

t.test('bystanders: rows byte-for-byte unchanged, and their open connections received nothing', async (t) => {
  const after = await bystanderRows();
  for (const table of Object.keys(before)) t.same(after[table], before[table], `${table}: ${before[table]!.length} rows unchanged`);
  for (const [name, c] of [
    ['bob', bob],
    ['alice in the other application', aliceElsewhere],
  ] as const) {
    t.same(c.received, [], `${name}'s connection received nothing`);
    await c.ping();
    t.pass(`${name}'s connection still answers`);
  }
});
