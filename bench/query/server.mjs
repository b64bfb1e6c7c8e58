// Query benchmark on the server: query_documents over a WebSocket to a real server process, on
// PostgreSQL holding DOCS documents of one user among TOTAL (the rest spread over users of 1,000
// each). Every figure is printed beside its baseline from the same run: the same question as one
// hand-written SQL statement sent straight to PostgreSQL (the floor under the compiler, the
// server and the socket), and a WebSocket ping (the transport floor). EXPLAIN ANALYZE shows
// where the database's time goes. Printed, never asserted.
// Usage: npm run build && node bench/query/server.mjs [--docs 100000] [--total 1000000] [--runs 200]
import pg from 'pg';
import { parseQuery } from '@json-sync/core';
import { createTestDatabase, startServer, TestClient } from '@json-sync/test-support';
import { PostgresDatabase } from '../../server/dist/db/postgres.js';
import { createLogger } from '../../server/dist/logger.js';
import { compileQuery } from '../../server/dist/query/pg-query.js';
import { runQuery } from '../../server/dist/query/run-query.js';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const arg = (name, fallback) => Number(args[name] ?? fallback);
const DOCS = arg('docs', 100000);
const TOTAL = arg('total', 1000000);
const RUNS = arg('runs', 200);
const PER_OTHER = 1000;

const now = () => performance.now();
const SYLLABLES = ['syn', 'pad', 'ba', 'dru', 'vo', 'mix', 'mas', 'te', 'pre', 'set', 're', 'verb', 'del', 'cho', 'rus', 'é', 'ta', 'war', 'ki', 'lo', 'mü', 'na', 'po', 'zi'];
// The device benchmark's vocabulary (bench/query/device.mjs): 3,000 words, a few with diacritics.
const WORDS = Array.from({ length: 3000 }, (_, i) => SYLLABLES[i % 24] + SYLLABLES[Math.floor(i / 24) % 24] + (i >= 576 ? SYLLABLES[Math.floor(i / 576) % 24] : ''));

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function timed(fn, runs = RUNS) {
  for (let i = 0; i < Math.min(20, runs); i++) await fn(i);
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t0 = now();
    await fn(i);
    times.push(now() - t0);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}
const ms = (n) => `${n.toFixed(2)} ms`;
const fig = (r) => `p50 ${ms(r.p50)}, p99 ${ms(r.p99)}`;

const t0 = now();
const tdb = await createTestDatabase('bench_query');
const creds = await tdb.credentials('bench');
const server = await startServer({ databaseUrl: tdb.url, env: { LOG_LEVEL: 'warn', SYNC_QUERY_TIMEOUT_MS: '60000' } });
const raw = new pg.Client({ connectionString: tdb.url });
await raw.connect();
const db = new PostgresDatabase(tdb.url, createLogger('silent'), 2);
try {
  const client = await TestClient.connect(server.url, { email: 'bench@example.com', apiKey: creds.apiKey, secret: creds.secret }, { protocol: 2 });
  const user = client.userId;
  const others = Math.ceil((TOTAL - DOCS) / PER_OTHER);
  await raw.query(
    `INSERT INTO users (id, application_id, email, email_normalized)
     SELECT gen_random_uuid(), $1, 'other' || i || '@example.com', 'other' || i || '@example.com' FROM generate_series(1, $2) i`,
    [creds.applicationId, others],
  );
  const otherIds = (await raw.query(`SELECT id FROM users WHERE id <> $1 ORDER BY email`, [user])).rows.map((r) => r.id);

  // A bulk load: the indexes (migration 4's included) are dropped, the rows written, the same indexes built again.
  const indexes = (await raw.query(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'documents' AND indexname <> 'documents_pkey'`)).rows;
  for (const { indexname } of indexes) await raw.query(`DROP INDEX ${indexname}`);
  const CHUNK = 50000;
  for (let from = 0; from < TOTAL; from += CHUNK) {
    // The device benchmark's task-like documents: status, priority, tags, title, ~200 characters of description, nested numbers.
    await raw.query(
      `INSERT INTO documents (id, user_id, content, sync_revision, content_hash, title, created_at, updated_at)
       SELECT gen_random_uuid(), CASE WHEN i < $3 THEN $4::uuid ELSE ($5::uuid[])[(1 + (i - $3) / ${PER_OTHER})::int] END, c, 1, repeat('0', 64), c ->> 'title', ts, ts
       FROM (SELECT i, timestamptz '2026-01-01' + i * interval '1 second' AS ts, jsonb_build_object(
         'title', w[(1 + (i * 7919) % 3000)::int] || ' ' || w[(1 + (i * 7919 + 104729 + i % 997) % 3000)::int] || ' ' || i,
         'status', (ARRAY['open', 'done', 'waiting'])[(1 + i % 3)::int],
         'priority', (ARRAY['low', 'medium', 'high'])[(1 + (i * 7) % 3)::int],
         'tags', jsonb_build_array(w[(1 + (i * 7919 + 2 * 104729 + (i * 2) % 997) % 3000)::int], w[(1 + (i * 7919 + 3 * 104729 + (i * 3) % 997) % 3000)::int]),
         'description', left(array_to_string(ARRAY(SELECT w[(1 + (i * 7919 + k * 104729 + (i * k) % 997) % 3000)::int] FROM generate_series(4, 31) k), ' '), 200),
         'meta', jsonb_build_object('bpm', 60 + i % 120, 'bars', i % 64),
         'updated', 1700000000 + i) AS c
         FROM generate_series($1::bigint, $2::bigint) i, (SELECT $6::text[] AS w) v) x`,
      [from, Math.min(TOTAL, from + CHUNK) - 1, DOCS, user, otherIds, WORDS],
    );
  }
  const loaded = now();
  for (const { indexdef } of indexes) await raw.query(indexdef);
  await raw.query('ANALYZE documents');
  console.log(`${TOTAL} documents (${DOCS} of the measured user, the rest ${PER_OTHER} per user over ${others} users): loaded in ${((loaded - t0) / 1000).toFixed(0)} s, indexed in ${((now() - loaded) / 1000).toFixed(0)} s`);
  const size = (await raw.query(`SELECT pg_size_pretty(pg_total_relation_size('documents')) AS s`)).rows[0].s;
  console.log(`documents table with its indexes: ${size}; runs per figure: ${RUNS}`);

  let n = 0;
  const ask = async (query) => {
    const request_id = `b${++n}`;
    const reply = await client.request({ type: 'query_documents', request_id, query }, (m) => m.request_id === request_id, 60000);
    if (reply.type !== 'query_result') throw new Error(JSON.stringify(reply));
    return reply;
  };
  const rare = WORDS[123];
  // The columns the server reads (not the stored search vector).
  const COLUMNS = 'id, user_id, title, content, sync_revision, content_hash, created_at, updated_at, deleted_at';
  const cases = [
    {
      name: 'indexed equality + sort + limit 50',
      query: { where: { status: 'open' }, sort: [{ $updatedAt: 'desc' }], limit: 50 },
      sql: `SELECT ${COLUMNS} FROM documents WHERE user_id = $1 AND deleted_at IS NULL AND content @> '{"status": "open"}' ORDER BY updated_at DESC, id DESC LIMIT 51`,
    },
    {
      name: 'its second page (keyset)',
      page2: true,
      query: { where: { status: 'open' }, sort: [{ $updatedAt: 'desc' }], limit: 50 },
      sql: `SELECT ${COLUMNS} FROM documents WHERE user_id = $1 AND deleted_at IS NULL AND content @> '{"status": "open"}' AND (updated_at, id) < ($2, $3) ORDER BY updated_at DESC, id DESC LIMIT 51`,
    },
    {
      name: `GIN equality on an array element (tags: "${rare}"), id order, limit 50`,
      query: { where: { tags: rare }, limit: 50 },
      sql: `SELECT ${COLUMNS} FROM documents WHERE user_id = $1 AND deleted_at IS NULL AND (content @> '{"tags": ["${rare}"]}' OR content @> '{"tags": "${rare}"}') ORDER BY id LIMIT 51`,
    },
    {
      name: 'full-text search, top 20',
      query: { search: `${WORDS[300]}*`, limit: 20 },
      sql: `SELECT ${COLUMNS}, ts_rank(search_vector, q) AS r FROM documents, to_tsquery('simple', '${WORDS[300]}:*') q
            WHERE user_id = $1 AND deleted_at IS NULL AND search_vector @@ q ORDER BY r DESC, id LIMIT 21`,
    },
    {
      name: 'unindexed: equality + sort by a content number, limit 50 (a sort of every match)',
      query: { where: { status: 'open' }, sort: [{ 'meta.bpm': 'desc' }], limit: 50 },
      sql: `SELECT ${COLUMNS} FROM documents WHERE user_id = $1 AND deleted_at IS NULL AND content @> '{"status": "open"}' ORDER BY (content -> 'meta' -> 'bpm') DESC, id DESC LIMIT 51`,
      runs: Math.max(10, Math.floor(RUNS / 10)),
    },
    {
      name: 'count of one status',
      query: { where: { status: 'open' }, count: true },
      sql: `SELECT count(*) FROM documents WHERE user_id = $1 AND deleted_at IS NULL AND content @> '{"status": "open"}'`,
      runs: Math.max(10, Math.floor(RUNS / 10)),
    },
  ];
  console.log(`WebSocket ping round trip (transport floor): ${fig(await timed(() => client.ping()))}`);
  for (const c of cases) {
    let query = c.query;
    let params = [user];
    if (c.page2) {
      const first = await ask(c.query);
      query = { ...c.query, after: first.next };
      const last = first.documents.at(-1);
      params = [user, last.updated_at, last.id];
    }
    const answer = await ask(query);
    const rows = (await raw.query(c.sql, params)).rows;
    const same = JSON.stringify(answer.documents?.map((d) => d.id) ?? answer.count) === JSON.stringify(c.query.count ? Number(rows[0].count) : rows.slice(0, c.query.limit).map((r) => r.id));
    const served = await timed(() => ask(query), c.runs ?? RUNS);
    const inProcess = await timed(() => runQuery(db, user, query, 60000), c.runs ?? RUNS);
    const base = await timed(() => raw.query(c.sql, params), c.runs ?? RUNS);
    const compile = await timed(async () => compileQuery(parseQuery(query), user), c.runs ?? RUNS);
    console.log(`\n${c.name}${c.query.search ? '' : same ? '' : ' (NOTE: answers differ from the raw SQL)'}`);
    console.log(`  query_documents over the socket: ${fig(served)}; raw SQL, same question: ${fig(base)} (${(served.p50 / base.p50).toFixed(2)}x)`);
    console.log(`  where it goes: the server's runQuery called in this process (parse, compile, one script round trip, rows to documents) ${fig(inProcess)}, of which parse + compile ${fig(compile)}`);
    const explain = async (sql, p) => (await raw.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, p)).rows.map((r) => r['QUERY PLAN']);
    const brief = (plan) => plan.filter((l) => /Scan|Sort |Limit|Execution|Planning|Bitmap|Filter/.test(l)).map((l) => l.trim().replace(/\s+/g, ' ')).slice(0, 8).join('\n      ');
    console.log(`  raw SQL plan:\n      ${brief(await explain(c.sql, params))}`);
    console.log(`  the server's statement (compiled), plan:\n      ${brief(await explain(compileQuery(parseQuery(query), user).sql, []))}`);
  }
  client.close();
} finally {
  await raw.end();
  await db.close();
  await server.stop();
  await tdb.drop();
}
