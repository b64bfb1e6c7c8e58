import t from 'tap';
import { newUuid } from '@json-sync/core';
import { startTestServer, TestClient } from '@json-sync/test-support';

// Two users on two processes create the same ids at the same moment: the bulk write of one batch
// finds an id taken meanwhile, rolls back, and re-runs one mutation at a time. Every create gets
// exactly one of success or document_exists, never server_error, and each id has one owner.
t.test('creates of one id by two users on two processes race cleanly', async (t) => {
  const ts = await startTestServer();
  t.teardown(() => ts.teardown());
  const p2 = await ts.startAnother();
  const a = await TestClient.connect(ts.url, { email: 'racer-a@example.com', apiKey: ts.apiKey, secret: ts.secret });
  const b = await TestClient.connect(p2.url, { email: 'racer-b@example.com', apiKey: ts.apiKey, secret: ts.secret });
  t.teardown(() => {
    a.close();
    b.close();
  });
  const ids = Array.from({ length: 300 }, () => newUuid());
  const replies = await Promise.all(
    ids.flatMap((id, i) => [
      a.mutate({ type: 'create_document', document: { id, content: { by: 'a', i } } }, 30_000),
      b.mutate({ type: 'create_document', document: { id, content: { by: 'b', i } } }, 30_000),
    ]),
  );
  const codes = replies.map((r) => (r.type === 'error' ? r.code : r.type));
  t.notOk(codes.includes('server_error'), 'no server_error');
  for (let i = 0; i < ids.length; i++) {
    const pair = [codes[2 * i], codes[2 * i + 1]].sort();
    t.same(pair, ['document_created_response', 'document_exists'], `id ${i}: one winner`);
  }
  const owners = await ts.tdb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM documents');
  t.equal(owners.rows[0]!.n, ids.length, 'one document per id');
  const events = await ts.tdb.db.query<{ user_id: string; seqs: number[] }>('SELECT user_id, array_agg(sequence ORDER BY sequence) AS seqs FROM change_events GROUP BY user_id');
  for (const row of events.rows) t.same(row.seqs.map(Number), row.seqs.map((_, i) => i + 1), 'dense sequences per user');
});
