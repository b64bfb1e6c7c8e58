import t, { type Test } from 'tap';
import { createHmac, randomBytes } from 'node:crypto';
import { DEFAULT_LIMITS, isUuid, newUuid, parseServerMessage, unixSeconds, type ServerMessage } from '@json-sync/core';
import { runCli, startTestServer, TestClient } from '@json-sync/test-support';

interface Creds {
  apiKey: string;
  secret: string;
}

interface FrameOptions {
  email: string;
  creds: Creds;
  clientId: string;
  /** A nonce to send; `null` sends none (the empty-body form). Default: 16 random bytes, hex. */
  nonce?: string | null;
  timestamp?: number;
  /** Sign this email instead of the one sent. */
  signEmail?: string;
  /** Sign with this secret instead of the key's. */
  signSecret?: string;
  extra?: Record<string, unknown>;
}

/**
 * Builds `authenticate` by computing the HMAC from the specification directly (not through core's
 * `sign`), so the test pins the signed string itself: `${timestamp}.${email}.${api_key}.${body}`.
 */
function authFrame(o: FrameOptions): Record<string, unknown> {
  const timestamp = o.timestamp ?? unixSeconds();
  const nonce = o.nonce === undefined ? randomBytes(16).toString('hex') : o.nonce;
  const body = nonce === null ? '' : `${o.clientId}.${nonce}`;
  const signed = `${timestamp}.${o.signEmail ?? o.email}.${o.creds.apiKey}.${body}`;
  const signature = createHmac('sha256', o.signSecret ?? o.creds.secret).update(signed, 'utf8').digest('hex');
  return {
    type: 'authenticate',
    email: o.email,
    client_id: o.clientId,
    api_key: o.creds.apiKey,
    signature,
    timestamp,
    ...(nonce === null ? {} : { nonce }),
    ...o.extra,
  };
}

const isAuthReply = (m: ServerMessage) => m.type === 'auth_success' || m.type === 'auth_error';

// Failures count toward the per-address limit; this file makes about a dozen on the shared server,
// so it gets headroom. The limit itself is tested on a server process of its own below.
const ts = await startTestServer({ prefix: 'auth_test', appName: 'auth app', args: ['--auth-failure-limit', '100'] });
const { tdb, server: main } = ts;
const app = { applicationId: ts.applicationId, apiKey: ts.apiKey, secret: ts.secret };
const opened: TestClient[] = [];
t.teardown(async () => {
  for (const c of opened) c.close();
  await ts.teardown();
});

async function open(url: string, clientId: string = newUuid()): Promise<TestClient> {
  const c = await TestClient.open(url, clientId);
  opened.push(c);
  return c;
}

/** Opens a connection and sends one `authenticate` frame (or raw text), returning the auth reply. */
async function attempt(url: string, frame: Record<string, unknown> | string, clientId?: string): Promise<{ c: TestClient; reply: ServerMessage }> {
  const c = await open(url, clientId ?? (typeof frame === 'string' ? newUuid() : String(frame.client_id ?? newUuid())));
  const reply = await c.request(frame, isAuthReply);
  return { c, reply };
}

function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

/** auth_error with exactly {type, reason, server_time}, nothing else sent, and the socket closed. */
async function expectRefused(t: Test, url: string, frame: Record<string, unknown> | string, reason: string): Promise<void> {
  const { c, reply } = await attempt(url, frame);
  t.strictSame(Object.keys(reply).sort(), ['reason', 'server_time', 'type'], 'auth_error has exactly its fields');
  t.match(reply, { type: 'auth_error', reason });
  const serverTime = (reply as { server_time: number }).server_time;
  t.ok(Math.abs(serverTime - unixSeconds()) <= 2, `server_time ${serverTime} is near now`);
  t.not(await within(c.closed, 3000), 'timeout', 'server closes the connection after auth_error');
  t.strictSame(c.received, [], 'nothing else was sent');
}

async function expectAccepted(t: Test, url: string, frame: Record<string, unknown>): Promise<Extract<ServerMessage, { type: 'auth_success' }>> {
  const { reply } = await attempt(url, frame);
  t.equal(reply.type, 'auth_success', `accepted: ${JSON.stringify(reply)}`);
  return reply as Extract<ServerMessage, { type: 'auth_success' }>;
}

async function userRow(applicationId: string, emailNormalized: string): Promise<{ id: string; email: string } | undefined> {
  const r = await tdb.db.query<{ id: string; email: string }>('SELECT id, email FROM users WHERE application_id = $1 AND email_normalized = $2', [
    applicationId,
    emailNormalized,
  ]);
  return r.rows[0];
}

/** A ±1 s drift between our clock read and the server's would make a ±300/301 boundary flaky: start early in a second. */
async function earlyInSecond(): Promise<void> {
  const ms = Date.now() % 1000;
  if (ms > 500) await new Promise((r) => setTimeout(r, 1010 - ms));
}

t.test('valid authenticate with a nonce: auth_success carries the session facts', async (t) => {
  const clientId = newUuid();
  const reply = await expectAccepted(t, main.url, authFrame({ email: 'alice@example.com', creds: app, clientId }));
  t.ok(parseServerMessage(reply).ok, 'auth_success passes the core validator');
  t.ok(isUuid(reply.session_id), 'session_id is a UUID');
  t.equal(reply.client_id, clientId, 'client_id is echoed');
  const row = await userRow(app.applicationId, 'alice@example.com');
  t.ok(row, 'user created on first authentication');
  t.equal(reply.user_id, row!.id, 'user_id is the stored user');
  t.equal(reply.latest_sequence, 0, 'a new user has no changes');
  t.strictSame(reply.limits, { ...DEFAULT_LIMITS }, 'limits are the core defaults');
  t.ok(Math.abs(reply.server_time - unixSeconds()) <= 2, 'server_time is near now');

  const again = await expectAccepted(t, main.url, authFrame({ email: 'alice@example.com', creds: app, clientId }));
  t.equal(again.user_id, reply.user_id, 'same user on the next session');
  t.not(again.session_id, reply.session_id, 'each session has its own id');
});

t.test('latest_sequence reports the last committed change of the user', async (t) => {
  const a = await TestClient.connect(main.url, { email: 'seq@example.com', apiKey: app.apiKey, secret: app.secret });
  opened.push(a);
  await a.create({ n: 1 });
  await a.create({ n: 2 });
  const reply = await expectAccepted(t, main.url, authFrame({ email: 'seq@example.com', creds: app, clientId: newUuid() }));
  t.equal(reply.latest_sequence, 2);
});

t.test('valid authenticate without a nonce: the signed string ends with a dot', async (t) => {
  const clientId = newUuid();
  const frame = authFrame({ email: 'nononce@example.com', creds: app, clientId, nonce: null });
  t.notOk('nonce' in frame);
  const reply = await expectAccepted(t, main.url, frame);
  t.equal(reply.client_id, clientId);

  // The same message signed without the trailing dot is not the specified form.
  const timestamp = unixSeconds();
  const noDot = createHmac('sha256', app.secret).update(`${timestamp}.nononce@example.com.${app.apiKey}`, 'utf8').digest('hex');
  await expectRefused(t, main.url, { ...authFrame({ email: 'nononce@example.com', creds: app, clientId, nonce: null, timestamp }), signature: noDot }, 'bad_signature');
});

t.test('malformed', async (t) => {
  const frame = () => authFrame({ email: 'mal@example.com', creds: app, clientId: newUuid() });
  t.test('invalid JSON', (t) => expectRefused(t, main.url, '{"type":"authenticate",', 'malformed'));
  t.test('missing signature', (t) => {
    const { signature: _s, ...rest } = frame();
    return expectRefused(t, main.url, rest, 'malformed');
  });
  t.test('missing client_id', (t) => {
    const { client_id: _c, ...rest } = frame();
    return expectRefused(t, main.url, rest, 'malformed');
  });
  t.test('timestamp as a string', (t) => {
    const f = frame();
    return expectRefused(t, main.url, { ...f, timestamp: String(f.timestamp) }, 'malformed');
  });
  t.test('ping before authentication', (t) => expectRefused(t, main.url, { type: 'ping' }, 'malformed'));
  t.test('create_document before authentication', (t) =>
    expectRefused(t, main.url, { type: 'create_document', document: { id: newUuid(), content: { a: 1 } }, mutation_id: newUuid() }, 'malformed'));
});

t.test('unknown_key', (t) => expectRefused(t, main.url, authFrame({ email: 'u@example.com', creds: { apiKey: `rpa_${randomBytes(32).toString('hex')}`, secret: app.secret }, clientId: newUuid() }), 'unknown_key'));

t.test('revoked_key', async (t) => {
  const other = await tdb.credentials('revoked app');
  await expectAccepted(t, main.url, authFrame({ email: 'r@example.com', creds: other, clientId: newUuid() }));
  await tdb.db.query('UPDATE api_credentials SET active = false, revoked_at = now() WHERE api_key = $1', [other.apiKey]);
  await expectRefused(t, main.url, authFrame({ email: 'r@example.com', creds: other, clientId: newUuid() }), 'revoked_key');
});

t.test('bad_signature', async (t) => {
  t.test('signed with another secret', (t) =>
    expectRefused(t, main.url, authFrame({ email: 'b@example.com', creds: app, clientId: newUuid(), signSecret: `rps_${randomBytes(32).toString('hex')}` }), 'bad_signature'));
  t.test('signature made for another client_id', (t) => {
    const f = authFrame({ email: 'b@example.com', creds: app, clientId: newUuid() });
    return expectRefused(t, main.url, { ...f, client_id: newUuid() }, 'bad_signature');
  });
});

t.test('timestamp_skew at ±301 s; ±299 s accepted', async (t) => {
  for (const skew of [301, -301]) {
    await earlyInSecond();
    await expectRefused(t, main.url, authFrame({ email: 'skew@example.com', creds: app, clientId: newUuid(), timestamp: unixSeconds() + skew }), 'timestamp_skew');
  }
  for (const skew of [299, -299]) {
    await earlyInSecond();
    await expectAccepted(t, main.url, authFrame({ email: 'skew@example.com', creds: app, clientId: newUuid(), timestamp: unixSeconds() + skew }));
  }
});

t.test('replayed: the same signed message is accepted once', async (t) => {
  const frame = authFrame({ email: 'replay@example.com', creds: app, clientId: newUuid() });
  await expectAccepted(t, main.url, frame);
  await expectRefused(t, main.url, frame, 'replayed');
  const stored = await tdb.db.query('SELECT 1 FROM auth_replays WHERE signature = $1', [frame.signature]);
  t.equal(stored.rows.length, 1, 'the signature is in the shared replay store');
});

t.test('unsupported_protocol: versions 1 and 2 are spoken, another is refused', async (t) => {
  await expectRefused(t, main.url, authFrame({ email: 'proto@example.com', creds: app, clientId: newUuid(), extra: { protocol_version: 3 } }), 'unsupported_protocol');
  await expectAccepted(t, main.url, authFrame({ email: 'proto@example.com', creds: app, clientId: newUuid(), extra: { protocol_version: 1 } }));
  await expectAccepted(t, main.url, authFrame({ email: 'proto@example.com', creds: app, clientId: newUuid(), extra: { protocol_version: 2 } }));
});

t.test('unavailable when the credentials cannot be checked; accepted again once they can', async (t) => {
  // The key store failing stands in for the database going away: every lookup errors.
  await tdb.db.query('ALTER TABLE api_credentials RENAME TO api_credentials_away');
  try {
    for (let i = 0; i < 3; i++) await expectRefused(t, main.url, authFrame({ email: 'down@example.com', creds: app, clientId: newUuid() }), 'unavailable');
  } finally {
    await tdb.db.query('ALTER TABLE api_credentials_away RENAME TO api_credentials');
  }
  await expectAccepted(t, main.url, authFrame({ email: 'down@example.com', creds: app, clientId: newUuid() }));
});

t.test('rate_limited after repeated failures from one address', async (t) => {
  const limited = await ts.startAnother({ args: ['--auth-failure-limit', '3'] });
  for (let i = 0; i < 3; i++) {
    await expectRefused(t, limited.url, authFrame({ email: 'rl@example.com', creds: app, clientId: newUuid(), signSecret: `rps_${'0'.repeat(64)}` }), 'bad_signature');
  }
  await expectRefused(t, limited.url, authFrame({ email: 'rl@example.com', creds: app, clientId: newUuid() }), 'rate_limited');
});

t.test('a replay is refused across two server processes on one database', async (t) => {
  const second = await ts.startAnother();
  const first = authFrame({ email: 'multi@example.com', creds: app, clientId: newUuid() });
  await expectAccepted(t, main.url, first);
  await expectRefused(t, second.url, first, 'replayed');
  const other = authFrame({ email: 'multi@example.com', creds: app, clientId: newUuid() });
  await expectAccepted(t, second.url, other);
  await expectRefused(t, main.url, other, 'replayed');
});

t.test('two clients of one new user authenticating in the same second both succeed', async (t) => {
  const timestamp = unixSeconds();
  const [a, b] = await Promise.all([
    attempt(main.url, authFrame({ email: 'twins@example.com', creds: app, clientId: newUuid(), timestamp })),
    attempt(main.url, authFrame({ email: 'twins@example.com', creds: app, clientId: newUuid(), timestamp })),
  ]);
  t.equal(a.reply.type, 'auth_success', JSON.stringify(a.reply));
  t.equal(b.reply.type, 'auth_success', JSON.stringify(b.reply));
  const ua = (a.reply as { user_id: string }).user_id;
  t.equal((b.reply as { user_id: string }).user_id, ua, 'one user');
  const rows = await tdb.db.query('SELECT id FROM users WHERE application_id = $1 AND email_normalized = $2', [app.applicationId, 'twins@example.com']);
  t.strictSame(rows.rows, [{ id: ua }], 'exactly one users row');
});

t.test('one email in two applications: two users that cannot see each other', async (t) => {
  const appA = await tdb.credentials('iso A');
  const appB = await tdb.credentials('iso B');
  const email = 'carol@example.com';
  const a = await TestClient.connect(main.url, { email, apiKey: appA.apiKey, secret: appA.secret });
  const b = await TestClient.connect(main.url, { email, apiKey: appB.apiKey, secret: appB.secret });
  opened.push(a, b);
  t.not(a.userId, b.userId, 'different user_ids');
  t.equal((await userRow(appA.applicationId, email))?.id, a.userId);
  t.equal((await userRow(appB.applicationId, email))?.id, b.userId);

  const created = await a.create({ title: 'secret plans', n: 1 });
  const docId = created.document_id;

  const syncDone = await b.request({ type: 'request_full_sync' }, (m) => m.type === 'sync_complete');
  t.match(syncDone, { type: 'sync_complete', synced_count: 0, latest_sequence: 0 });
  t.strictSame(b.all('sync_document'), [], 'full sync shows nothing of the other application');
  const changes = await b.request({ type: 'get_changes_since', last_sequence: 0 }, (m) => m.type === 'changes');
  t.match(changes, { type: 'changes', events: [], latest_sequence: 0, has_more: false });
  t.equal((changes as { events: unknown[] }).events.length, 0);

  const update = await b.mutate({ type: 'update_document', patch: { document_id: docId, patch: [{ op: 'replace', path: '/n', value: 2 }] } });
  t.match(update, { type: 'error', code: 'document_not_found' });
  const del = await b.mutate({ type: 'delete_document', document_id: docId });
  t.match(del, { type: 'error', code: 'document_not_found' });
  const steal = await b.mutate({ type: 'create_document', document: { id: docId, content: { n: 99 } } });
  t.match(steal, { type: 'error', code: 'document_exists' });
  t.notMatch(JSON.stringify(steal), /secret plans/, 'the refusal reveals nothing of the document');

  const doc = await tdb.db.query<{ user_id: string; sync_revision: number; content: unknown; deleted_at: Date | null }>(
    'SELECT user_id, sync_revision, content, deleted_at FROM documents WHERE id = $1',
    [docId],
  );
  t.strictSame(doc.rows, [{ user_id: a.userId, sync_revision: 1, content: { title: 'secret plans', n: 1 }, deleted_at: null }], 'document untouched');
  const seqB = await tdb.db.query<{ last_sequence: number }>('SELECT last_sequence FROM users WHERE id = $1', [b.userId]);
  t.equal(Number(seqB.rows[0]!.last_sequence), 0, 'nothing committed for the other user');
  await a.ping();
  t.strictSame(a.received, [], 'the owner received no pushes from the other application');
});

t.test('emails are trimmed and lower-cased for lookup but signed exactly as sent', async (t) => {
  const lower = await expectAccepted(t, main.url, authFrame({ email: 'bob@example.com', creds: app, clientId: newUuid() }));
  t.test('different case maps to the same user', async (t) => {
    const mixed = await expectAccepted(t, main.url, authFrame({ email: 'Bob@Example.COM', creds: app, clientId: newUuid() }));
    t.equal(mixed.user_id, lower.user_id);
  });
  t.test('surrounding whitespace and case map to the same user', async (t) => {
    const spaced = await expectAccepted(t, main.url, authFrame({ email: ' Bob@Example.com', creds: app, clientId: newUuid() }));
    if (spaced.type === 'auth_success') t.equal(spaced.user_id, lower.user_id);
  });
  t.test('a signature over the normalized form does not cover the email as sent', (t) =>
    expectRefused(t, main.url, authFrame({ email: 'Bob@Example.com', signEmail: 'bob@example.com', creds: app, clientId: newUuid() }), 'bad_signature'));
  t.test('one users row', async (t) => {
    const rows = await tdb.db.query('SELECT id FROM users WHERE application_id = $1 AND email_normalized = $2', [app.applicationId, 'bob@example.com']);
    t.strictSame(rows.rows, [{ id: lower.user_id }]);
  });
});

t.test('revoke-credentials closes that key’s open sessions within 5 s; other keys stay open', async (t) => {
  const doomed = await tdb.credentials('doomed');
  const kept = await tdb.credentials('kept');
  const d1 = await TestClient.connect(main.url, { email: 'd1@example.com', apiKey: doomed.apiKey, secret: doomed.secret });
  const d2 = await TestClient.connect(main.url, { email: 'd2@example.com', apiKey: doomed.apiKey, secret: doomed.secret });
  const k = await TestClient.connect(main.url, { email: 'd1@example.com', apiKey: kept.apiKey, secret: kept.secret });
  opened.push(d1, d2, k);
  let kClosed = false;
  void k.closed.then(() => (kClosed = true));

  const cli = await runCli(['revoke-credentials', doomed.apiKey], { databaseUrl: tdb.url });
  t.equal(cli.code, 0, `revoke-credentials exits 0: ${cli.stderr}`);
  const revokedAt = Date.now();
  const closed = await within(Promise.all([d1.closed, d2.closed]), 8000);
  const ms = Date.now() - revokedAt;
  t.not(closed, 'timeout', 'both sessions of the revoked key closed');
  t.ok(ms <= 5000, `sessions closed ${ms} ms after revocation (limit 5000)`);

  t.notOk(kClosed, 'the other key’s session is still open');
  await k.ping();
  await expectRefused(t, main.url, authFrame({ email: 'd1@example.com', creds: doomed, clientId: newUuid() }), 'revoked_key');
});
