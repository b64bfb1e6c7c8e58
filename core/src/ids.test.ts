import t from 'tap';
import { isUuid, newTimeOrderedUuid, newUuid } from './ids.js';

t.test('newUuid is a random version 4 UUID', async (t) => {
  const id = newUuid();
  t.ok(isUuid(id));
  t.equal(id[14], '4');
});

t.test('newTimeOrderedUuid is a canonical version 7 UUID carrying the time it was made', async (t) => {
  const before = Date.now();
  const id = newTimeOrderedUuid();
  const after = Date.now();
  t.ok(isUuid(id), id);
  t.equal(id[14], '7', 'version 7');
  t.ok('89ab'.includes(id[19]), 'RFC 9562 variant');
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  // A counter that ran past 4,096 in a millisecond borrows the next one, so allow a little ahead.
  t.ok(ms >= before && ms <= after + 5, `timestamp ${ms} within [${before}, ${after}]`);
});

t.test('ids made one after another sort in the order they were made, and never repeat', async (t) => {
  const ids = Array.from({ length: 20_000 }, newTimeOrderedUuid);
  const sorted = [...ids].sort();
  t.same(sorted, ids, 'string order is creation order, across milliseconds and within one');
  t.equal(new Set(ids).size, ids.length, 'no id twice');
});

t.test('the random part differs between ids of the same millisecond', async (t) => {
  const ids = Array.from({ length: 1000 }, newTimeOrderedUuid);
  const tails = new Set(ids.map((id) => id.slice(19)));
  t.equal(tails.size, ids.length, '62 random bits per id');
});
