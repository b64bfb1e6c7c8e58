import t from 'tap';
import { EventType } from './events.js';
import { nextEvent, record, syncedPair } from './test-support/harness.js';

t.test('two engines of one user: create, update, delete propagate without echo', async (t) => {
  const { a, b } = await syncedPair(t, 'bob@example.com');
  const aEvents = record(a);
  const created = nextEvent(b, EventType.DocumentCreated);
  const id = a.createDocument({ title: 'Task', done: false });
  const e = await created;
  t.equal(e.documentId, id);
  t.same(e.content, { title: 'Task', done: false });
  t.equal(e.booleanData, false);
  const updated = nextEvent(b, EventType.DocumentUpdated);
  a.updateDocument(id, { title: 'Task 2' });
  t.same((await updated).content, { title: 'Task 2' });
  const deleted = nextEvent(b, EventType.DocumentDeleted);
  a.deleteDocument(id);
  await deleted;
  await a.whenSynced(5000);
  t.same(aEvents.map((x) => x.type), [EventType.DocumentCreated, EventType.DocumentUpdated, EventType.DocumentDeleted], 'one event per local change, none on ack');
  t.equal(b.getDocument(id)?.deletedAt !== null, true);
  t.equal(a.getDocument(id)?.syncRevision, 3);
});
