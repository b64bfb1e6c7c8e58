import t, { type Test } from 'tap';
import { contentHash } from './canonical-json.js';
import type { JsonObject } from './json-value.js';
import { DEFAULT_LIMITS } from './limits.js';
import { clientMessages, parseClientMessage, parseServerMessage, PROTOCOL_VERSION, serverMessages, type ParseResult } from './messages.js';
import { applyPatch, diff, reversePatch, type PatchOp } from './patch.js';
import { titleOf } from './title.js';

// One coherent story, so the examples can serve as the protocol document's examples: Alice's
// phone (CLIENT) creates a grocery list, adds an item, and later deletes it; her laptop (OTHER)
// receives the pushes.
const USER = '6d1f3c2a-8b4e-4f7a-9c2d-1e5b7a9f0c34';
const CLIENT = '0b7e4c1d-2f3a-4b5c-8d6e-7f8091a2b3c4';
const OTHER = 'c9a8b7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d';
const SESSION = 'f47ac10b-58cc-4372-a567-0e02b2c3d479';
const DOC = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const DOC2 = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const M_CREATE = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
const M_UPDATE = '2c5f39cb-3ab2-42e3-994a-1127e4ddb538';
const M_STALE = '3d6a4adc-4bc3-43f4-8a5b-2238f5eec649';
const M_DELETE = '4e7b5bed-5cd4-44a5-9b6c-3349a6ffd75a';
const NONCE = '9f86d081884c7d659a2feaa0c55ad015';
const API_KEY = `rpa_${'4c1f'.repeat(16)}`;
const CREATED = '2024-06-01T12:00:00.000Z';
const UPDATED = '2024-06-01T12:05:30.250Z';
const DELETED = '2024-06-02T08:15:00.000Z';

const v1: JsonObject = { title: 'Groceries', items: [{ name: 'milk', done: false }] };
const addEggs: PatchOp[] = [{ op: 'add', path: '/items/-', value: { name: 'eggs', done: false } }];
const v2 = applyPatch(v1, addEggs);
const tickMilk: PatchOp[] = [{ op: 'replace', path: '/items/0/done', value: true }];
const v3 = applyPatch(v2, tickMilk);

function wireDoc(content: JsonObject, sync_revision: number, updated_at: string, deleted_at: string | null = null) {
  return { id: DOC, user_id: USER, title: titleOf(content), content, sync_revision, content_hash: contentHash(content), created_at: CREATED, updated_at, deleted_at };
}

/** The SHA-256 of "hello" as an attachment id. */
const ATT = 'sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';

const clientExamples: Record<string, Record<string, unknown>[]> = {
  authenticate: [
    { type: 'authenticate', email: 'alice@example.com', client_id: CLIENT, api_key: API_KEY, signature: 'a3f1'.repeat(16), timestamp: 1717243200, nonce: NONCE, protocol_version: PROTOCOL_VERSION },
    // The seed's form: no nonce, no protocol version.
    { type: 'authenticate', email: 'Alice@Example.com', client_id: CLIENT, api_key: API_KEY, signature: '0be2'.repeat(16), timestamp: 1717243200 },
  ],
  create_document: [
    { type: 'create_document', document: { id: DOC, content: v1 }, mutation_id: M_CREATE },
    // Reviving a deleted document: a create carrying the deleted revision.
    { type: 'create_document', document: { id: DOC, content: v1 }, base_revision: 3, mutation_id: M_STALE },
  ],
  update_document: [
    { type: 'update_document', patch: { document_id: DOC, patch: addEggs }, base_revision: 1, mutation_id: M_UPDATE },
    { type: 'update_document', patch: { document_id: DOC, patch: tickMilk, content_hash: contentHash(v2) }, mutation_id: M_STALE },
    { type: 'update_document', patch: { document_id: DOC, patch: [] }, mutation_id: M_STALE },
  ],
  delete_document: [
    { type: 'delete_document', document_id: DOC, base_revision: 2, mutation_id: M_DELETE },
    { type: 'delete_document', document_id: DOC, mutation_id: M_DELETE },
  ],
  get_changes_since: [
    { type: 'get_changes_since', last_sequence: 0 },
    { type: 'get_changes_since', last_sequence: 41, limit: 100 },
  ],
  ack_changes: [{ type: 'ack_changes', up_to_sequence: 42 }],
  request_full_sync: [{ type: 'request_full_sync' }, { type: 'request_full_sync', since_sequence: 40 }],
  ping: [{ type: 'ping' }],
  query_documents: [
    { type: 'query_documents', request_id: 'q1', query: { where: { 'items.done': false }, sort: [{ $updatedAt: 'desc' }], limit: 20 } },
    { type: 'query_documents', request_id: 'q2', query: { where: { 'items.name': 'eggs' }, count: true } },
  ],
  upload_attachment: [
    { type: 'upload_attachment', attachment: ATT, length: 5, content_type: 'audio/wav', request_id: 'u1' },
    { type: 'upload_attachment', attachment: ATT, length: 0, request_id: 'u2' },
  ],
  download_attachment: [
    { type: 'download_attachment', attachment: ATT, request_id: 'd1' },
    { type: 'download_attachment', attachment: ATT, offset: 262144, request_id: 'd2' },
  ],
};

const serverExamples: Record<string, Record<string, unknown>[]> = {
  auth_success: [{ type: 'auth_success', session_id: SESSION, client_id: CLIENT, user_id: USER, latest_sequence: 41, limits: { ...DEFAULT_LIMITS }, server_time: 1717243201 }],
  auth_error: [{ type: 'auth_error', reason: 'timestamp_skew', server_time: 1717243201 }],
  document_created_response: [{ type: 'document_created_response', document_id: DOC, success: true, sync_revision: 1, content_hash: contentHash(v1), sequence: 42, mutation_id: M_CREATE }],
  document_updated_response: [
    { type: 'document_updated_response', document_id: DOC, success: true, sync_revision: 2, content_hash: contentHash(v2), sequence: 43, merged: false, mutation_id: M_UPDATE },
    // A stale update merged onto a newer revision: the full result comes along.
    { type: 'document_updated_response', document_id: DOC, success: true, sync_revision: 3, content_hash: contentHash(v3), sequence: 44, merged: true, document: wireDoc(v3, 3, UPDATED), mutation_id: M_STALE },
  ],
  document_deleted_response: [{ type: 'document_deleted_response', document_id: DOC, success: true, sync_revision: 4, sequence: 45, mutation_id: M_DELETE }],
  document_created: [{ type: 'document_created', document: wireDoc(v1, 1, CREATED), sequence: 42, client_id: CLIENT, mutation_id: M_CREATE }],
  document_updated: [{ type: 'document_updated', document_id: DOC, patch: addEggs, sync_revision: 2, content_hash: contentHash(v2), sequence: 43, client_id: CLIENT, mutation_id: M_UPDATE }],
  document_deleted: [{ type: 'document_deleted', document_id: DOC, sync_revision: 4, sequence: 45, client_id: CLIENT, mutation_id: M_DELETE }],
  conflict_detected: [
    {
      type: 'conflict_detected',
      document_id: DOC,
      resolution_strategy: 'server_wins',
      server_document: wireDoc(v3, 3, UPDATED),
      rejected_patch: [{ op: 'replace', path: '/items/0/done', value: false }],
      mutation_id: M_STALE,
    },
    // A rejected delete has no patch.
    { type: 'conflict_detected', document_id: DOC, resolution_strategy: 'server_wins', server_document: wireDoc(v3, 3, UPDATED), rejected_patch: null, mutation_id: M_DELETE },
  ],
  changes: [
    {
      type: 'changes',
      events: [
        { sequence: 42, document_id: DOC, event_type: 'create', forward_patch: v1, reverse_patch: null, sync_revision: 1, content_hash: contentHash(v1), client_id: CLIENT, mutation_id: M_CREATE, created_at: CREATED, title: 'Groceries' },
        { sequence: 43, document_id: DOC, event_type: 'update', forward_patch: diff(v1, v2), reverse_patch: reversePatch(v1, v2), sync_revision: 2, content_hash: contentHash(v2), client_id: CLIENT, mutation_id: M_UPDATE, created_at: UPDATED },
        { sequence: 44, document_id: DOC, event_type: 'update', forward_patch: tickMilk, reverse_patch: reversePatch(v2, v3), sync_revision: 3, content_hash: contentHash(v3), client_id: OTHER, mutation_id: M_STALE, created_at: UPDATED },
        { sequence: 45, document_id: DOC, event_type: 'delete', forward_patch: null, reverse_patch: v3, sync_revision: 4, content_hash: contentHash(v3), client_id: CLIENT, mutation_id: M_DELETE, created_at: DELETED },
      ],
      latest_sequence: 45,
      has_more: false,
    },
    { type: 'changes', events: [], latest_sequence: 45, has_more: false },
  ],
  change: [
    {
      type: 'change',
      change: { sequence: 42, document_id: DOC, event_type: 'create', forward_patch: v1, reverse_patch: null, sync_revision: 1, content_hash: contentHash(v1), client_id: CLIENT, mutation_id: M_CREATE, created_at: CREATED, title: 'Groceries' },
    },
    {
      type: 'change',
      change: { sequence: 45, document_id: DOC, event_type: 'delete', forward_patch: null, reverse_patch: v3, sync_revision: 4, content_hash: contentHash(v3), client_id: CLIENT, mutation_id: M_DELETE, created_at: DELETED },
    },
  ],
  changes_acknowledged: [{ type: 'changes_acknowledged', sequence: 45 }],
  sync_document: [
    { type: 'sync_document', document: wireDoc(v3, 3, UPDATED) },
    { type: 'sync_document', document: { ...wireDoc({ items: [] }, 1, CREATED), id: DOC2 } },
  ],
  sync_complete: [
    { type: 'sync_complete', synced_count: 2, latest_sequence: 45 },
    { type: 'sync_complete', synced_count: 1, latest_sequence: 45, since_sequence: 40 },
  ],
  pong: [{ type: 'pong' }],
  upload_ready: [{ type: 'upload_ready', request_id: 'u1', attachment: ATT, offset: 0 }],
  upload_progress: [{ type: 'upload_progress', attachment: ATT, received: 262144 }],
  attachment_uploaded: [{ type: 'attachment_uploaded', request_id: 'u1', attachment: ATT, length: 5 }],
  download_ready: [{ type: 'download_ready', request_id: 'd1', attachment: ATT, length: 5, content_type: 'audio/wav', offset: 0 }],
  download_complete: [{ type: 'download_complete', request_id: 'd1', attachment: ATT }],
  query_result: [
    { type: 'query_result', request_id: 'q1', documents: [wireDoc(v3, 3, UPDATED)], next: null },
    { type: 'query_result', request_id: 'q2', count: 1 },
  ],
  error: [
    { type: 'error', code: 'invalid_patch', message: 'patch does not apply: path /items/7 does not exist', mutation_id: M_UPDATE },
    { type: 'error', code: 'attachment_not_found', message: 'no such attachment', request_id: 'd1' },
    { type: 'error', code: 'cursor_expired', message: 'sequence 3 is older than the kept change log; request a full sync' },
    { type: 'error', code: 'invalid_query', message: 'where.priority.$inn: unknown operator', request_id: 'q3' },
    { type: 'error', code: 'query_timeout', message: 'the query ran longer than 2000 ms', request_id: 'q4' },
  ],
};

function expectOk<M>(t: Test, r: ParseResult<M>, what: string): M | undefined {
  if (!r.ok) {
    t.fail(`${what}: ${r.error}`);
    return undefined;
  }
  t.pass(what);
  return r.message;
}

// ---- client messages --------------------------------------------------------------------------

t.test('every client message type has an example, and each example parses', async (t) => {
  t.same(Object.keys(clientExamples).sort(), Object.keys(clientMessages).sort());
  for (const [type, examples] of Object.entries(clientExamples)) {
    for (const example of examples) {
      const raw = JSON.parse(JSON.stringify(example)) as Record<string, unknown>;
      const msg = expectOk(t, parseClientMessage(raw), `${type} ${JSON.stringify(raw).slice(0, 80)}`);
      t.same(msg, raw, `${type}: parsed equals the wire form`);
      t.not(msg, raw, `${type}: parsed is a fresh object`);
    }
  }
});

t.test('client messages that are not objects, or have no known type, are refused', async (t) => {
  for (const raw of [null, undefined, 'ping', 1, true, [], [{ type: 'ping' }]]) {
    const r = parseClientMessage(raw);
    t.equal(r.ok, false, `${JSON.stringify(raw)} refused`);
    if (!r.ok) t.equal(r.type, undefined);
  }
  const missing = parseClientMessage({ last_sequence: 0 });
  t.match(missing, { ok: false, error: /type/ });
  t.match(parseClientMessage({ type: 7 }), { ok: false, error: /type/ });
  const unknown = parseClientMessage({ type: 'drop_database' });
  t.match(unknown, { ok: false, error: /unknown message type/ });
  t.equal((unknown as { type?: string }).type, undefined, 'an unknown type is not reported back as a type');
  // Server messages and prototype names are not client messages.
  for (const type of ['pong', 'auth_success', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'Ping', 'ping ']) {
    t.equal(parseClientMessage({ type }).ok, false, `type ${JSON.stringify(type)}`);
  }
});

t.test('a bad request_id is refused, and a good one is echoed on a refused query_documents', async (t) => {
  for (const request_id of ['', 'x'.repeat(129), 'a b', 'é', 7, null]) {
    const r = parseClientMessage({ type: 'query_documents', request_id, query: {} });
    t.match(r, { ok: false, error: /request_id/ }, JSON.stringify(request_id));
    t.equal((r as { request_id?: string }).request_id, undefined, 'a malformed request_id is not echoed');
  }
  t.match(parseClientMessage({ type: 'query_documents', request_id: 'q9' }), { ok: false, request_id: 'q9' });
});

/** Each case is one valid example with one field changed: exactly that change must be refused. */
function refuses(t: Test, base: Record<string, unknown>, change: (m: Record<string, unknown>) => void, what: string, field?: RegExp): void {
  const m = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  change(m);
  const r = parseClientMessage(m);
  t.equal(r.ok, false, what);
  if (!r.ok) {
    t.equal(r.type, base.type, `${what}: the type is reported`);
    if (field) t.match(r.error, field, `${what}: error names the field`);
  }
}

t.test('wrongly typed or missing fields are refused', async (t) => {
  const [auth] = clientExamples.authenticate!;
  const [create] = clientExamples.create_document!;
  const [update] = clientExamples.update_document!;
  const [del] = clientExamples.delete_document!;
  const [since] = clientExamples.get_changes_since!;
  const [ack] = clientExamples.ack_changes!;
  const [, fullSince] = clientExamples.request_full_sync!;
  for (const field of ['email', 'client_id', 'api_key', 'signature', 'timestamp']) {
    refuses(t, auth!, (m) => delete m[field], `authenticate without ${field}`, new RegExp(field));
    refuses(t, auth!, (m) => (m[field] = null), `authenticate with null ${field}`, new RegExp(field));
  }
  refuses(t, auth!, (m) => (m.timestamp = '1717243200'), 'timestamp as a string', /timestamp/);
  refuses(t, auth!, (m) => (m.timestamp = 1717243200.5), 'fractional timestamp', /timestamp/);
  refuses(t, auth!, (m) => (m.email = 'not-an-email'), 'email without @', /email/);
  refuses(t, auth!, (m) => (m.email = `${'a'.repeat(250)}@b.co`), 'email over 254 characters', /email/);
  refuses(t, auth!, (m) => (m.protocol_version = '1'), 'protocol_version as a string', /protocol_version/);
  refuses(t, auth!, (m) => (m.api_key = 42), 'api_key as a number', /api_key/);

  refuses(t, create!, (m) => delete m.document, 'create without document', /document/);
  refuses(t, create!, (m) => (m.document = 'x'), 'create with a string document', /document/);
  refuses(t, create!, (m) => delete (m.document as Record<string, unknown>).id, 'create without document.id', /document\.id/);
  refuses(t, create!, (m) => (m.mutation_id = null), 'create with a null mutation_id', /mutation_id/);
  refuses(t, create!, (m) => ((m.document as Record<string, unknown>).title = 7), 'create with a numeric document.title', /document\.title/);
  refuses(t, create!, (m) => (m.base_revision = '3'), 'create with base_revision as a string', /base_revision/);

  refuses(t, update!, (m) => (m.patch = addEggs), 'update whose patch is the bare op list', /^patch: must be an object/);
  refuses(t, update!, (m) => ((m.patch as Record<string, unknown>).document_id = 17), 'update with numeric document_id', /patch\.document_id/);
  refuses(t, update!, (m) => ((m.patch as Record<string, unknown>).content_hash = 'ABC'), 'update with a malformed content_hash', /content_hash/);
  refuses(t, update!, (m) => ((m.patch as Record<string, unknown>).content_hash = contentHash(v1).toUpperCase()), 'update with an uppercase content_hash', /content_hash/);

  refuses(t, del!, (m) => delete m.document_id, 'delete without document_id', /document_id/);
  refuses(t, del!, (m) => (m.document_id = [DOC]), 'delete with document_id in an array', /document_id/);
  refuses(t, since!, (m) => (m.last_sequence = '0'), 'last_sequence as a string', /last_sequence/);
  refuses(t, since!, (m) => delete m.last_sequence, 'get_changes_since without last_sequence', /last_sequence/);
  refuses(t, ack!, (m) => (m.up_to_sequence = null), 'ack without a sequence', /up_to_sequence/);
  refuses(t, fullSince!, (m) => (m.since_sequence = -1), 'a negative since_sequence', /since_sequence/);
  refuses(t, fullSince!, (m) => (m.since_sequence = '40'), 'since_sequence as a string', /since_sequence/);
});

t.test('ids must be lowercase canonical UUIDs', async (t) => {
  const [auth] = clientExamples.authenticate!;
  const [create] = clientExamples.create_document!;
  const [update] = clientExamples.update_document!;
  const [del] = clientExamples.delete_document!;
  const variants: [string, (id: string) => string][] = [
    ['uppercase', (id) => id.toUpperCase()],
    ['one uppercase hex letter', (id) => id.replace(/[a-f](?=[^a-f]*$)/, (c) => c.toUpperCase())],
    ['braced', (id) => `{${id}}`],
    ['no hyphens', (id) => id.replace(/-/g, '')],
    ['urn', (id) => `urn:uuid:${id}`],
    ['trailing space', (id) => `${id} `],
    ['non-hex', (id) => `${id.slice(0, 35)}g`],
  ];
  for (const [what, f] of variants) {
    refuses(t, auth!, (m) => (m.client_id = f(CLIENT)), `client_id ${what}`, /client_id/);
    refuses(t, create!, (m) => ((m.document as Record<string, unknown>).id = f(DOC)), `document.id ${what}`, /document\.id/);
    refuses(t, create!, (m) => (m.mutation_id = f(M_CREATE)), `mutation_id ${what}`, /mutation_id/);
    refuses(t, update!, (m) => ((m.patch as Record<string, unknown>).document_id = f(DOC)), `patch.document_id ${what}`, /document_id/);
    refuses(t, del!, (m) => (m.document_id = f(DOC)), `document_id ${what}`, /document_id/);
  }
});

t.test('sequence numbers and revisions must be non-negative integers', async (t) => {
  const [since] = clientExamples.get_changes_since!;
  const [ack] = clientExamples.ack_changes!;
  const [update] = clientExamples.update_document!;
  const [del] = clientExamples.delete_document!;
  for (const bad of [-1, 1.5, -0.5, Number.NaN, Infinity, 2 ** 53, '5', true]) {
    const label = typeof bad === 'string' ? JSON.stringify(bad) : String(bad);
    refuses(t, since!, (m) => (m.last_sequence = bad), `last_sequence ${label}`, /last_sequence/);
    refuses(t, since!, (m) => (m.limit = bad), `limit ${label}`, /limit/);
    refuses(t, ack!, (m) => (m.up_to_sequence = bad), `up_to_sequence ${label}`, /up_to_sequence/);
    refuses(t, update!, (m) => (m.base_revision = bad), `update base_revision ${label}`, /base_revision/);
    refuses(t, del!, (m) => (m.base_revision = bad), `delete base_revision ${label}`, /base_revision/);
  }
  // Revisions start at 1 and a page holds at least one event; sequence 0 is a valid cursor.
  refuses(t, update!, (m) => (m.base_revision = 0), 'base_revision 0', /base_revision/);
  refuses(t, since!, (m) => (m.limit = 0), 'limit 0', /limit/);
  t.equal(parseClientMessage({ type: 'get_changes_since', last_sequence: 0 }).ok, true);
  t.equal(parseClientMessage({ type: 'ack_changes', up_to_sequence: 0 }).ok, true);
  t.equal(parseClientMessage({ type: 'get_changes_since', last_sequence: 2 ** 53 - 1 }).ok, true, 'largest safe integer');
});

t.test('a nonce, when sent, is 32 lowercase hex digits', async (t) => {
  const [auth] = clientExamples.authenticate!;
  for (const [what, nonce] of [
    ['uppercase', NONCE.toUpperCase()],
    ['31 digits', NONCE.slice(1)],
    ['33 digits', `${NONCE}0`],
    ['non-hex', `${NONCE.slice(0, 31)}z`],
    ['empty', ''],
    ['null', null],
    ['number', 12345],
    ['base64 of 16 bytes', Buffer.from(NONCE, 'hex').toString('base64')],
  ] as [string, unknown][]) {
    refuses(t, auth!, (m) => (m.nonce = nonce), `nonce ${what}`, /nonce/);
  }
  const noNonce = parseClientMessage(clientExamples.authenticate![1]);
  t.ok(noNonce.ok && !('nonce' in noNonce.message), 'an absent nonce stays absent');
});

t.test('unknown fields are dropped from the parsed message', async (t) => {
  const r = parseClientMessage({
    type: 'create_document',
    document: { id: DOC, content: v1, title: 'given title', owner: USER },
    mutation_id: M_CREATE,
    user_id: USER,
    admin: true,
  });
  const msg = expectOk(t, r, 'create with extra fields');
  t.same(msg, { type: 'create_document', document: { id: DOC, content: v1, title: 'given title' }, mutation_id: M_CREATE });
  t.ok(msg && !('admin' in msg) && !('user_id' in msg), 'top-level extras are gone');
  t.ok(msg && msg.type === 'create_document' && !('owner' in msg.document), 'extras beside the content are gone');

  const ping = expectOk(t, parseClientMessage({ type: 'ping', payload: 'x'.repeat(100) }), 'ping with extras');
  t.same(ping, { type: 'ping' });
  const upd = expectOk(t, parseClientMessage({ type: 'update_document', patch: { document_id: DOC, patch: addEggs, extra: 1 }, mutation_id: M_UPDATE }), 'update with nested extras');
  t.same(upd, { type: 'update_document', patch: { document_id: DOC, patch: addEggs }, mutation_id: M_UPDATE });
  // Content itself is carried whole: its members are the user's data, checked by the content rules.
  const withContent = expectOk(t, parseClientMessage({ type: 'create_document', document: { id: DOC, content: { anything: [1, { x: null }] } }, mutation_id: M_CREATE }), 'arbitrary content');
  t.same(withContent, { type: 'create_document', document: { id: DOC, content: { anything: [1, { x: null }] } }, mutation_id: M_CREATE });
});

t.test('mutations without mutation_id parse (the server assigns one)', async (t) => {
  for (const [type, examples] of Object.entries(clientExamples)) {
    if (!['create_document', 'update_document', 'delete_document'].includes(type)) continue;
    const { mutation_id: _omitted, ...without } = examples[0]! as Record<string, unknown>;
    const msg = expectOk(t, parseClientMessage(without), `${type} without mutation_id`);
    t.notOk(msg && 'mutation_id' in msg, `${type}: no mutation_id invented by the parser`);
  }
});

t.test('mutation_id is echoed on errors only when it is a valid UUID', async (t) => {
  const invalid = { type: 'delete_document', document_id: 'nope' };
  const echoed = parseClientMessage({ ...invalid, mutation_id: M_DELETE });
  t.match(echoed, { ok: false, error: /document_id/, type: 'delete_document', mutation_id: M_DELETE });
  t.match(parseClientMessage({ type: 'update_document', patch: null, mutation_id: M_UPDATE }), { ok: false, type: 'update_document', mutation_id: M_UPDATE });
  t.match(parseClientMessage({ type: 'no_such_type', mutation_id: M_UPDATE }), { ok: false, mutation_id: M_UPDATE }, 'even for an unknown type');
  t.match(parseClientMessage({ mutation_id: M_UPDATE }), { ok: false, mutation_id: M_UPDATE }, 'even without a type');
  for (const [what, mid] of [
    ['uppercase', M_DELETE.toUpperCase()],
    ['junk', '<script>alert(1)</script>'],
    ['number', 12],
    ['object', { id: M_DELETE }],
    ['null', null],
    ['long string', 'x'.repeat(10_000)],
  ] as [string, unknown][]) {
    const r = parseClientMessage({ ...invalid, mutation_id: mid });
    t.equal(r.ok, false);
    t.notOk('mutation_id' in r, `${what} mutation_id is not echoed`);
  }
  t.notOk('mutation_id' in parseClientMessage({ ...invalid }), 'absent mutation_id is not invented');
});

// ---- server messages --------------------------------------------------------------------------

t.test('every server message type has an example, and each example parses', async (t) => {
  t.same(Object.keys(serverExamples).sort(), Object.keys(serverMessages).sort());
  for (const [type, examples] of Object.entries(serverExamples)) {
    for (const example of examples) {
      const raw = JSON.parse(JSON.stringify(example)) as Record<string, unknown>;
      const msg = expectOk(t, parseServerMessage(raw), `${type} ${JSON.stringify(raw).slice(0, 80)}`);
      t.same(msg, raw, `${type}: parsed equals the wire form`);
    }
  }
});

t.test('the server examples are internally consistent', async (t) => {
  // The change log's reverse patches walk the content back, as the protocol promises.
  const events = (serverExamples.changes![0]!.events as { reverse_patch: PatchOp[]; sync_revision: number }[]).filter((_, i) => i === 1 || i === 2);
  t.same(applyPatch(v3, events[1]!.reverse_patch), v2);
  t.same(applyPatch(v2, events[0]!.reverse_patch), v1);
  t.equal(wireDoc(v3, 3, UPDATED).title, 'Groceries');
});

t.test('server messages with bad fields are refused', async (t) => {
  t.equal(parseServerMessage({ type: 'auth_error', reason: 'expired', server_time: 1 }).ok, false, 'unknown auth_error reason');
  t.equal(parseServerMessage({ type: 'error', code: 'teapot', message: 'x' }).ok, false, 'unknown error code');
  t.equal(parseServerMessage({ type: 'document_created_response', ...serverExamples.document_created_response![0], success: false }).ok, false, 'success must be true');
  t.equal(parseServerMessage({ ...serverExamples.conflict_detected![0], resolution_strategy: 'client_wins' }).ok, false, 'only server_wins');
  t.equal(parseServerMessage({ ...serverExamples.document_created![0], document: { ...wireDoc(v1, 1, CREATED), sync_revision: 0 } }).ok, false, 'revision 0 document');
  t.equal(parseServerMessage({ ...serverExamples.auth_success![0], limits: { ...DEFAULT_LIMITS, max_depth: undefined } }).ok, false, 'incomplete limits');
  t.equal(parseServerMessage({ type: 'ping' }).ok, false, 'a client message is not a server message');
});
