import t from 'tap';
import { newUuid } from '@json-sync/core';
import { decodeNotification, encodeNotifications, MAX_NOTIFY_BYTES, type CommittedRange } from './notify.js';

t.test('what a batch encodes decodes to the same process id and ranges', async (t) => {
  const serverId = newUuid();
  const ranges: CommittedRange[] = [
    { userId: newUuid(), from: 1, to: 1 },
    { userId: newUuid(), from: 41, to: 57 },
  ];
  const payloads = encodeNotifications(serverId, ranges);
  t.equal(payloads.length, 1);
  t.same(decodeNotification(payloads[0]!), { serverId, ranges });
});

t.test('many users are split over payloads under PostgreSQL’s cap, losing none', async (t) => {
  const serverId = newUuid();
  const ranges = Array.from({ length: 1000 }, (_, i) => ({ userId: newUuid(), from: i + 1, to: i + 3 }));
  const payloads = encodeNotifications(serverId, ranges);
  t.ok(payloads.length > 1, `${payloads.length} payloads`);
  for (const p of payloads) t.ok(Buffer.byteLength(p) < MAX_NOTIFY_BYTES, `payload of ${Buffer.byteLength(p)} bytes`);
  const decoded = payloads.map((p) => decodeNotification(p)!);
  t.ok(decoded.every((d) => d.serverId === serverId));
  t.same(
    decoded.flatMap((d) => d.ranges),
    ranges,
  );
});

t.test('payloads that are not ours decode to null', async (t) => {
  for (const p of ['', 'not json', '{}', '{"s":1,"r":[]}', '{"s":"x","r":[["u",1]]}', '{"s":"x","r":[["u","1",2]]}', 'null', '[]']) {
    t.equal(decodeNotification(p), null, JSON.stringify(p));
  }
});
