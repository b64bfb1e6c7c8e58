import t, { type Test } from 'tap';
import { QUERY_LIMITS, type ErrorCode, type ServerMessage, type ServerMessageOf } from '@json-sync/core';
import { startTestServer, TestClient, type Identity } from '@json-sync/test-support';

/**
 * Hostile query_documents, in bad-input.test.ts's manner: one server and one connection for the
 * file, each bad query answered by exactly one error naming the request and the offending part,
 * and the connection and process usable afterwards. A query past the time limit (250 ms here,
 * through SYNC_QUERY_TIMEOUT_MS) ends with query_timeout, and slow queries on many connections
 * leave the server answering everyone else.
 */

const TIMEOUT_MS = 250;
const ts = await startTestServer({ prefix: 'sq_hostile', env: { SYNC_QUERY_TIMEOUT_MS: String(TIMEOUT_MS) } });
const clients: TestClient[] = [];
t.teardown(async () => {
  clients.forEach((c) => c.close());
  await ts.teardown();
});

async function login(email: string): Promise<TestClient> {
  const id: Identity = { email, apiKey: ts.apiKey, secret: ts.secret };
  const c = await TestClient.connect(ts.url, id, { protocol: 2 });
  clients.push(c);
  return c;
}

const c = await login('mallory@example.com');
await c.create({ title: 'long', s: 'a'.repeat(200_000) });
await c.create({ title: 'short', s: 'ab', n: 1 });

let requests = 0;
type Reply = ServerMessageOf<'query_result'> | ServerMessageOf<'error'>;
function query(client: TestClient, q: unknown, timeoutMs?: number): Promise<Reply> {
  const request_id = `h${++requests}`;
  return client.request({ type: 'query_documents', request_id, query: q }, (m: ServerMessage) => 'request_id' in m && m.request_id === request_id, timeoutMs) as Promise<Reply>;
}

/** A ping, an ordinary query and a create still answered, and nothing else was sent. */
async function stillUsable(t: Test, client = c): Promise<void> {
  await client.ping();
  const r = await query(client, { where: { title: 'short' }, limit: 1 });
  t.equal(r.type, 'query_result', 'an ordinary query still answers');
  await client.create({ alive: true });
  t.same(client.received, [], 'no reply beyond the one answer');
  t.equal(ts.server.child.exitCode, null, 'server process alive');
}

async function refused(t: Test, q: unknown, code: ErrorCode, part: RegExp | string, label: string): Promise<void> {
  const r = await query(c, q);
  t.equal(r.type, 'error', `${label}: an error`);
  if (r.type !== 'error') return;
  t.equal(r.code, code, `${label}: ${code}`);
  t.equal(r.request_id, `h${requests}`, `${label}: names its request`);
  if (typeof part === 'string') t.ok(r.message.startsWith(part), `${label}: names ${part} (${r.message})`);
  else t.match(r.message, part, `${label}: says why`);
  await stillUsable(t);
}

const nested = (depth: number): unknown => (depth === 0 ? { n: 1 } : { $and: [nested(depth - 1)] });
const notNested = (depth: number): unknown => (depth === 0 ? { $gt: 1 } : { $not: notNested(depth - 1) });

t.test('unknown operators and wrong types: invalid_query naming the part', async (t) => {
  await refused(t, { where: { priority: { $inn: ['high'] } } }, 'invalid_query', 'where.priority.$inn: unknown operator', 'unknown operator');
  await refused(t, { where: { $where: 'sleep(10)' } }, 'invalid_query', 'where.$where', 'a $where');
  await refused(t, { where: { n: { $gt: {} } } }, 'invalid_query', 'where.n.$gt', 'an object to compare with');
  await refused(t, { where: { n: { $in: 'high' } } }, 'invalid_query', 'where.n.$in', '$in without a list');
  await refused(t, { where: { n: { $regex: 5 } } }, 'invalid_query', 'where.n.$regex', 'a number as a pattern');
  await refused(t, { where: [] }, 'invalid_query', 'where', 'where as an array');
  await refused(t, { limit: '5' }, 'invalid_query', 'limit', 'a string limit');
  await refused(t, { limit: 0 }, 'invalid_query', 'limit', 'a zero limit');
  await refused(t, { sort: [{ n: 'up' }] }, 'invalid_query', 'sort[0].n', 'a sort direction');
  await refused(t, { drop: true }, 'invalid_query', 'drop', 'an unknown member');
  await refused(t, 'SELECT * FROM documents', 'invalid_query', 'query', 'SQL as the query');
  await refused(t, null, 'invalid_query', 'query', 'null as the query');
  await refused(t, { where: { 'a.$b': 1 } }, 'invalid_query', 'where.a.$b', 'a $ path component');
  await refused(t, { where: { n: 2 ** 60 } }, 'invalid_query', 'where.n', 'a number beyond 2^53');
  await refused(t, { search: '!!!' }, 'invalid_query', 'search', 'a search without words');
});

t.test('SQL in names and values is data', async (t) => {
  for (const q of [{ where: { "x'); DROP TABLE documents; --": 1 } }, { where: { title: "'; DROP TABLE documents; --" } }, { where: { title: { $regex: "'$sync$" } } }, { sort: [{ 'a"b': 'asc' }] }]) {
    const r = await query(c, q);
    t.ok(r.type === 'query_result' || (r.type === 'error' && r.code === 'invalid_query'), `${JSON.stringify(q)}: an answer or invalid_query`);
  }
  await stillUsable(t);
});

t.test('depth bombs, condition bombs and huge lists are refused before any SQL is made', async (t) => {
  await refused(t, { where: nested(QUERY_LIMITS.maxDepth + 4) }, 'invalid_query', /nested deeper than 16/, '$and 20 deep');
  await refused(t, { where: { n: notNested(40) } }, 'invalid_query', /nested deeper than 16/, '$not 40 deep');
  await refused(t, { where: nested(1000) }, 'invalid_query', /nested deeper than 16/, '$and 1,000 deep');
  await refused(t, { where: { n: { $in: Array.from({ length: 1001 }, (_, i) => i) } } }, 'invalid_query', 'where.n.$in: holds at most 1000 values', '1,001 values');
  await refused(t, { where: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}`, i])) }, 'invalid_query', /more than 256 conditions/, '300 conditions');
  const r = await query(c, { where: { n: { $in: Array.from({ length: 1000 }, (_, i) => i) } } });
  t.equal(r.type === 'query_result' && r.documents?.length, 1, '1,000 values answer');
  await refused(t, { where: { $or: Array.from({ length: 200 }, (_, i) => ({ [`f${i}`]: 'x'.repeat(400) })) } }, 'invalid_query', /^query: at most 65536 bytes/, 'a query of 80 KB');
});

t.test('pathological regular expressions finish, or are refused as on the device', async (t) => {
  const started = performance.now();
  const r = await query(c, { where: { s: { $regex: '(a|a)*c' } } });
  t.same(r.type === 'query_result' && r.documents, [], '(a|a)*c over 200,000 characters: no match');
  for (const [pattern, titles] of [
    ['(a*)*c', []],
    ['(a+)+$', ['long']],
    ['^(?:a?){100}a{100}', ['long']],
  ] as const) {
    const x = await query(c, { where: { s: { $regex: pattern } } });
    t.same(x.type === 'query_result' && x.documents?.map((d) => d.title), titles, `${pattern}: answered`);
  }
  t.ok(performance.now() - started < 4 * TIMEOUT_MS, 'all within the time limit');
  await refused(t, { where: { s: { $regex: '(a)\\1' } } }, 'invalid_query', 'where.s.$regex: backreferences are not supported', 'a backreference');
  await refused(t, { where: { s: { $regex: '(?=a)' } } }, 'invalid_query', 'where.s.$regex', 'a lookahead');
  await refused(t, { where: { s: { $regex: 'a{1000}' } } }, 'invalid_query', 'where.s.$regex', 'a counted repeat past 100');
});

t.test('cursors: another query\'s, a tampered one, a forged id: invalid_query on after', async (t) => {
  const first = (await query(c, { sort: [{ $id: 'asc' }], limit: 1 })) as ServerMessageOf<'query_result'>;
  t.type(first.next, 'string');
  await refused(t, { sort: [{ $title: 'asc' }], limit: 1, after: first.next }, 'invalid_query', 'after: belongs to another query', "another query's cursor");
  await refused(t, { sort: [{ $id: 'asc' }], limit: 1, after: 'zz' }, 'invalid_query', 'after', 'not hex');
  const forged = Buffer.from(JSON.stringify([JSON.parse(Buffer.from(first.next!, 'hex').toString())[0], [3, "x' OR 1=1 --"], 'not-a-uuid'])).toString('hex');
  await refused(t, { sort: [{ $id: 'asc' }], limit: 1, after: forged }, 'invalid_query', 'after', 'a forged cursor');
});

t.test('bad request_id and frames: invalid_message, echoed only when well formed', async (t) => {
  for (const request_id of ['', 'x'.repeat(200), 'a b', 7]) {
    const p = c.next((m) => m.type === 'error');
    c.send({ type: 'query_documents', request_id, query: {} });
    const e = (await p) as ServerMessageOf<'error'>;
    t.equal(e.code, 'invalid_message', `${JSON.stringify(request_id).slice(0, 20)}: invalid_message`);
    t.notOk('request_id' in e, 'not echoed');
  }
  const p = c.next((m) => m.type === 'error');
  c.send({ type: 'query_documents', request_id: 'no-query' });
  const e = (await p) as ServerMessageOf<'error'>;
  t.match(e, { code: 'invalid_message', request_id: 'no-query', message: /query/ }, 'a missing query: invalid_message naming its request');
  const big = c.next((m) => m.type === 'error');
  c.send({ type: 'query_documents', request_id: 'huge', query: { where: { s: 'x'.repeat(1024 * 1024) } } });
  t.match(await big, { code: 'message_too_large' }, 'past the frame limit: message_too_large');
  await stillUsable(t);
});

t.test('a query past the time limit ends with query_timeout; many at once leave the server answering', async (t) => {
  // 60,000 documents whose sort key runs through an array: every row walks its path (sync_values_at).
  const slow = await login('slow@example.com');
  await ts.tdb.db.query(
    `INSERT INTO documents (id, user_id, content, sync_revision, content_hash, title, created_at, updated_at)
     SELECT gen_random_uuid(), $1, jsonb_build_object('items', jsonb_build_array(jsonb_build_object('k', i), jsonb_build_object('k', -i))), 1, repeat('0', 64), 'slow', now(), now()
     FROM generate_series(1, 60000) i`,
    [slow.userId],
  );
  const heavy = { where: { 'items.k': { $not: { $regex: '^x' } } }, sort: [{ 'items.k': 'desc' }], limit: 5 };
  const started = performance.now();
  const r = await query(slow, heavy);
  t.match(r, { type: 'error', code: 'query_timeout', request_id: `h${requests}`, message: /250 ms/ }, 'query_timeout, naming the request');
  t.ok(performance.now() - started < TIMEOUT_MS + 2000, 'ended near the limit');
  await stillUsable(t, slow);

  // Eight connections each sending slow queries: the others' pings, queries and writes still go through.
  const flooders = await Promise.all(Array.from({ length: 8 }, () => login('slow@example.com')));
  const flood = flooders.map((f) => Promise.all([query(f, heavy, 30_000), query(f, heavy, 30_000)]));
  const writeStarted = performance.now();
  await c.create({ during: 'flood' });
  const writeMs = performance.now() - writeStarted;
  t.ok(writeMs < 2000, `a write during the flood commits (${writeMs.toFixed(0)} ms)`);
  await c.ping();
  for (const replies of await Promise.all(flood)) for (const x of replies) t.match(x, { type: 'error', code: 'query_timeout' });
  await stillUsable(t);
});
