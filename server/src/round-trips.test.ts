import t from 'tap';
import { createServer, connect, type Socket } from 'node:net';
import { TEST_DATABASE_URL, startTestServer, TestClient } from '@json-sync/test-support';

/**
 * A TCP proxy between the server and PostgreSQL that reads the frontend protocol: every simple
 * Query ('Q') and every extended-protocol Sync ('S') is one round trip — the client then waits
 * for ReadyForQuery. For each backend connection it keeps the SQL of its round trips in order.
 */
class WireCounter {
  readonly connections: string[][] = [];
  private readonly server = createServer((client) => this.relay(client));

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  close(): void {
    this.server.close();
  }

  private relay(client: Socket): void {
    const target = new URL(TEST_DATABASE_URL);
    const upstream = connect(Number(target.port || 5432), target.hostname);
    const trips: string[] = [];
    this.connections.push(trips);
    let buffered = Buffer.alloc(0);
    let started = false;
    let extended = '';
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        // The startup message has no type byte; everything after it is type, int32 length, body.
        if (!started) {
          if (buffered.length < 4 || buffered.length < buffered.readInt32BE(0)) return;
          buffered = buffered.subarray(buffered.readInt32BE(0));
          started = true;
          continue;
        }
        if (buffered.length < 5 || buffered.length < 1 + buffered.readInt32BE(1)) return;
        const type = String.fromCharCode(buffered[0]!);
        const body = buffered.subarray(5, 1 + buffered.readInt32BE(1));
        buffered = buffered.subarray(1 + buffered.readInt32BE(1));
        if (type === 'Q') trips.push(body.subarray(0, body.length - 1).toString());
        else if (type === 'P') extended = body.subarray(body.indexOf(0) + 1, body.indexOf(0, body.indexOf(0) + 1)).toString();
        else if (type === 'S') trips.push(extended);
      }
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}

const wire = new WireCounter();
const proxyPort = await wire.listen();
const ts = await startTestServer({
  prefix: 'round_trips',
  serverDatabaseUrl: (url) => {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(proxyPort);
    return u.toString();
  },
});
t.teardown(async () => {
  await ts.teardown();
  wire.close();
});

/** Every batch transaction seen on the wire: the round trips from the one that locks users to the one that commits. */
function batchTransactions(): string[][] {
  const out: string[][] = [];
  for (const trips of wire.connections) {
    for (let i = 0; i < trips.length; i++) {
      if (!/^BEGIN; SELECT \* FROM sync_lock_users\(/.test(trips[i]!)) continue;
      const end = trips.findIndex((sql, k) => k > i && /COMMIT\s*$/.test(sql));
      out.push(trips.slice(i, end + 1));
    }
  }
  return out;
}

t.test('a batch of mutations from many connections commits in two round trips', async (t) => {
  const clients = await Promise.all(Array.from({ length: 16 }, (_, i) => TestClient.connect(ts.url, { email: `rt${i}@example.com`, apiKey: ts.apiKey, secret: ts.secret })));
  t.teardown(() => clients.forEach((c) => c.close()));
  const docs = await Promise.all(clients.map((c) => c.create({ n: 0 })));
  const before = batchTransactions().length;
  const batchesBefore = await batchCount();

  // Ten updates in flight per connection, sent without waiting, so batches hold many mutations.
  const replies = await Promise.all(
    clients.flatMap((c, i) =>
      Array.from({ length: 10 }, (_, k) => c.mutate({ type: 'update_document', patch: { document_id: docs[i]!.document_id, patch: [{ op: 'replace', path: '/n', value: k + 1 }] } })),
    ),
  );
  t.ok(
    replies.every((r) => r.type === 'document_updated_response'),
    'every update applied',
  );
  for (const [i, c] of clients.entries()) {
    const seqs = replies.slice(i * 10, i * 10 + 10).map((r) => (r as { sequence: number }).sequence);
    t.same(seqs, Array.from({ length: 10 }, (_, k) => docs[i]!.sequence + k + 1), `${c.userId}: dense sequences, in the order sent`);
  }

  const batches = batchTransactions().slice(before);
  const counted = (await batchCount()) - batchesBefore;
  t.equal(batches.length, counted, `every batch the server counted (${counted}) is on the wire`);
  t.ok(counted < 160, `${counted} batches for 160 updates: batches hold several mutations`);
  for (const trips of batches) {
    t.equal(trips.length, 2, 'two round trips per batch');
    t.match(trips[0], /^BEGIN; SELECT \* FROM sync_lock_users\(.*\); SELECT \* FROM sync_load_batch\(/s, 'the first: begin, lock the users, read the rows');
    t.match(trips[1], /^SELECT sync_write_batch\(.*; COMMIT; BEGIN; SET LOCAL synchronous_commit TO OFF; SELECT pg_notify.*; COMMIT$/s, 'the second: write and commit, then notify');
  }
});

async function batchCount(): Promise<number> {
  const text = await (await fetch(`${ts.httpUrl}/metrics`)).text();
  return Number(/^sync_batch_size_count (\S+)$/m.exec(text)?.[1]);
}
