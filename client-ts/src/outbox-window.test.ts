import t from 'tap';
import { harness, serverDocs } from './test-support/harness.js';

const EMAIL = 'window@example.com';
/** More than the outbox holds in memory (4,096): the rest waits in the database for its turn. */
const OFFLINE_CREATES = 5000;

t.test('a fresh engine whose first sync owes a snapshot uploads more offline changes than the outbox window holds', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  // The server has a change already, so the fresh engine below must take a full snapshot; the
  // snapshot waits until its sent changes are answered.
  const other = h.engine('other', EMAIL);
  other.createDocument({ title: 'from elsewhere' });
  await other.whenSynced(10_000);
  await other.close();

  const e = h.engine('fresh', EMAIL, { online: false });
  const ids = e.createDocuments(Array.from({ length: OFFLINE_CREATES }, (_, i) => ({ title: `offline ${i}`, n: i })));
  e.setOnline(true);
  await e.whenSynced(120_000);

  t.equal(e.pendingCount(), 0, 'nothing left to send');
  t.equal(e.countDocuments(), OFFLINE_CREATES + 1, 'the snapshot brought the other document, and every offline one is kept');
  t.same(e.conflicts(), [], 'no conflict');
  const server = await serverDocs(h);
  t.equal(server.size, OFFLINE_CREATES + 1, 'the server has every document');
  t.ok(
    ids.every((id, i) => server.get(id)?.content.n === i),
    'each offline create arrived with its content',
  );
});
