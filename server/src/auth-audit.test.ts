import t, { type Test } from 'tap';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { ServerMessage } from '@json-sync/core';
import { TEST_DATABASE_URL, startTestServer, TestClient, type Identity } from '@json-sync/test-support';

// The audit log, read from the real server process's stderr: one line per authentication attempt
// with exactly its fields, and nowhere a secret or a signature.

const LIMIT = 12;
const ts = await startTestServer({ prefix: 'audit_test', appName: 'audit app', env: { LOG_LEVEL: 'info' }, args: ['--auth-failure-limit', String(LIMIT)] });
const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
await admin.connect();
const opened: TestClient[] = [];
t.teardown(async () => {
  for (const c of opened) c.close();
  await admin.query(`ALTER DATABASE ${ts.tdb.name} ALLOW_CONNECTIONS true`);
  await admin.end();
  await ts.teardown();
});

const me: Identity = { email: 'Audited@Example.com', apiKey: ts.apiKey, secret: ts.secret };
const appId = (await ts.tdb.db.query<{ id: string }>('SELECT application_id AS id FROM api_credentials WHERE api_key = $1', [ts.apiKey])).rows[0]!.id;
/** Every secret and signature this file uses: none may appear in the server's output. */
const secrets: string[] = [ts.secret];

interface AuditLine {
  [field: string]: unknown;
}

function auditLines(): AuditLine[] {
  return ts.server
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"audit":"authentication"'))
    .map((l) => JSON.parse(l) as AuditLine);
}

/** Waits until the server has logged `count` audit lines in all (the log reaches us after the reply). */
async function linesUpTo(count: number): Promise<AuditLine[]> {
  const deadline = Date.now() + 5000;
  while (auditLines().length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return auditLines();
}

/** Audit lines the attempts so far should have made. */
let counted = 0;

/** The line of the latest attempt, once it is there (and no other line came with it). */
async function lastLine(t: Test): Promise<AuditLine> {
  counted++;
  const lines = await linesUpTo(counted);
  t.equal(lines.length, counted, 'one more audit line');
  return lines[counted - 1]!;
}

const isAuthReply = (m: ServerMessage) => m.type === 'auth_success' || m.type === 'auth_error';

/** One connection, one `authenticate` (or raw frame): the reply and the frame sent. */
async function attempt(frame: Record<string, unknown> | ((c: TestClient) => Record<string, unknown>) | string): Promise<{ reply: ServerMessage; frame: unknown; c: TestClient }> {
  const c = await TestClient.open(ts.url);
  opened.push(c);
  const sent = typeof frame === 'function' ? frame(c) : frame;
  if (typeof sent === 'object') secrets.push(String(sent.signature));
  return { reply: await c.request(sent, isAuthReply), frame: sent, c };
}

const SUCCESS_FIELDS = ['address', 'application', 'applicationId', 'audit', 'clientId', 'email', 'keyId', 'level', 'msg', 'outcome', 'pid', 'reason', 'time', 'userId'];

t.test('success: info line with the key id, email, application, address, client and user', async (t) => {
  const { reply, frame } = await attempt((c) => c.authMessage(me));
  t.equal(reply.type, 'auth_success');
  const line = await lastLine(t);
  t.strictSame(Object.keys(line).sort(), SUCCESS_FIELDS);
  t.match(line, {
    level: 30,
    audit: 'authentication',
    outcome: 'success',
    reason: null,
    keyId: ts.apiKey,
    email: 'Audited@Example.com',
    application: 'audit app',
    applicationId: appId,
    address: '127.0.0.1',
    clientId: (frame as { client_id: string }).client_id,
    userId: (reply as { user_id: string }).user_id,
    msg: 'authentication succeeded',
  });
});

/** A refusal's line: warn, the same fields (user null) and the reason. */
async function expectRefusal(t: Test, reason: string, expected: Record<string, unknown>, extraFields: string[] = []): Promise<AuditLine> {
  const line = await lastLine(t);
  t.strictSame(Object.keys(line).sort(), [...SUCCESS_FIELDS, ...extraFields].sort(), 'exactly the audit fields');
  t.match(line, { level: 40, audit: 'authentication', outcome: 'refused', reason, userId: null, address: '127.0.0.1', msg: /^authentication refused/, ...expected });
  return line;
}

t.test('bad signature: the key and its application are named', async (t) => {
  const wrong = `rps_${randomBytes(32).toString('hex')}`;
  secrets.push(wrong);
  const { reply } = await attempt((c) => c.authMessage({ ...me, secret: wrong }));
  t.match(reply, { type: 'auth_error', reason: 'bad_signature' });
  await expectRefusal(t, 'bad_signature', { keyId: ts.apiKey, email: 'Audited@Example.com', applicationId: appId, application: 'audit app' });
});

t.test('unknown key: no application', async (t) => {
  const unknown = `rpa_${randomBytes(32).toString('hex')}`;
  const { reply } = await attempt((c) => c.authMessage({ ...me, apiKey: unknown }));
  t.match(reply, { reason: 'unknown_key' });
  await expectRefusal(t, 'unknown_key', { keyId: unknown, applicationId: null, application: null });
});

t.test('a secret sent in place of the key id is not repeated', async (t) => {
  const { reply } = await attempt((c) => c.authMessage(me, { api_key: ts.secret }));
  t.match(reply, { reason: 'unknown_key' });
  await expectRefusal(t, 'unknown_key', { keyId: null, email: 'Audited@Example.com' });
});

t.test('revoked key: the open session is closed with a line of its own, later attempts are refused', async (t) => {
  const other = await ts.tdb.credentials('revoked app');
  secrets.push(other.secret);
  const id = { email: 'revoked@example.com', apiKey: other.apiKey, secret: other.secret };
  const { reply, c } = await attempt((c) => c.authMessage(id));
  t.equal(reply.type, 'auth_success');
  await lastLine(t);
  await ts.tdb.db.query('UPDATE api_credentials SET active = false, revoked_at = now() WHERE api_key = $1', [other.apiKey]);
  await c.closed;
  const deadline = Date.now() + 5000;
  const closedLine = () => ts.server.stderr().split('\n').find((l) => l.includes('session closed: key revoked'));
  while (!closedLine() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.match(JSON.parse(closedLine() ?? '{}'), { level: 40, audit: 'session', keyId: other.apiKey, address: '127.0.0.1', applicationId: other.applicationId, userId: String });

  const again = await attempt((c) => c.authMessage(id));
  t.match(again.reply, { reason: 'revoked_key' });
  await expectRefusal(t, 'revoked_key', { keyId: other.apiKey, applicationId: other.applicationId, application: 'revoked app' });
});

t.test('replayed signature', async (t) => {
  const first = await attempt((c) => c.authMessage({ ...me, email: 'replay@example.com' }));
  t.equal(first.reply.type, 'auth_success');
  await lastLine(t);
  const second = await attempt(first.frame as Record<string, unknown>);
  t.match(second.reply, { reason: 'replayed' });
  await expectRefusal(t, 'replayed', { keyId: ts.apiKey, email: 'replay@example.com', applicationId: appId });
});

t.test('timestamp skew', async (t) => {
  const { reply } = await attempt((c) => c.authMessage(me, {}, { timestamp: Math.floor(Date.now() / 1000) - 1000 }));
  t.match(reply, { reason: 'timestamp_skew' });
  await expectRefusal(t, 'timestamp_skew', { keyId: ts.apiKey, email: 'Audited@Example.com' });
});

t.test('malformed first frame: nothing of it is repeated', async (t) => {
  const { reply } = await attempt('{"type":"ping"}');
  t.match(reply, { reason: 'malformed' });
  await expectRefusal(t, 'malformed', { keyId: null, email: null, clientId: null, applicationId: null });
});

t.test('database unavailable: reason unavailable, with the error', async (t) => {
  // No one, superusers included, may connect to a database that disallows connections.
  await admin.query(`ALTER DATABASE ${ts.tdb.name} ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [ts.tdb.name]);
  try {
    const { reply } = await attempt((c) => c.authMessage(me));
    t.match(reply, { reason: 'unavailable' });
    const line = await expectRefusal(t, 'unavailable', { keyId: ts.apiKey, email: 'Audited@Example.com' }, ['error']);
    t.type(line.error, 'string');
  } finally {
    await admin.query(`ALTER DATABASE ${ts.tdb.name} ALLOW_CONNECTIONS true`);
  }
});

t.test('rate limiting: one line per window, however many attempts it refuses', async (t) => {
  const wrong = { ...me, secret: `rps_${randomBytes(32).toString('hex')}` };
  secrets.push(wrong.secret);
  let badSignatures = 0;
  for (let i = 0; i <= LIMIT; i++) {
    const { reply } = await attempt((c) => c.authMessage(wrong));
    if ((reply as { reason?: string }).reason === 'rate_limited') break;
    t.match(reply, { reason: 'bad_signature' });
    badSignatures++;
  }
  t.ok(badSignatures < LIMIT, `blocked after ${badSignatures} more failures (the limit counts the earlier ones)`);
  for (let i = 0; i < 4; i++) t.match((await attempt((c) => c.authMessage(me))).reply, { reason: 'rate_limited' });
  counted += badSignatures;
  await lastLine(t);
  const lines = auditLines();
  const limited = lines.filter((l) => l.reason === 'rate_limited');
  t.equal(limited.length, 1, 'five refusals, one line');
  t.match(limited[0], { level: 40, outcome: 'refused', windowSeconds: 60, address: '127.0.0.1', msg: /rate-limited/ });
  t.strictSame(Object.keys(limited[0]!).sort(), [...SUCCESS_FIELDS, 'windowSeconds'].sort());
  t.equal(lines.filter((l) => l.reason === 'bad_signature').length, badSignatures + 1, 'each bad signature has its line');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(auditLines().length, counted, 'no further lines for the repeated refusals');
  const metrics = await (await fetch(`${ts.httpUrl}/metrics`)).text();
  t.match(metrics, /sync_auth_failures_total\{reason="rate_limited"\} 5\n/, 'the metric counts every refusal');
});

t.test('no line of the server output holds a secret or a signature', async (t) => {
  const output = ts.server.stdout() + ts.server.stderr();
  t.ok(secrets.length > 10, `${secrets.length} secrets and signatures checked`);
  for (const s of secrets) t.notOk(output.includes(s), `${s.slice(0, 8)}… is not in the output`);
  t.equal(auditLines().length, counted, 'every attempt but the repeated rate-limited ones has one line');
});
