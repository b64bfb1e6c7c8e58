import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { AttachmentRef } from '@json-sync/core';
import { EventType } from '../events.js';
import { uploaded } from '../test-support/attachment-files.js';
import { eventually, harness, nextEvent } from '../test-support/harness.js';
import { refusal } from '../test-support/refusal.js';

// A server with small limits: 4 KiB per attachment, 10 000 bytes per user.
const h = await harness({ args: ['--max-attachment-bytes', '4096', '--attachment-quota-bytes', '10000'] });
t.teardown(() => h.teardown());

t.test('the server\'s max_attachment_bytes refuses larger adds with invalid_input once known; an add made before is refused by the server and reported', async (t) => {
  const email = 'limits@example.com';
  const early = h.engine('limits-early', email, { online: false });
  const tooBig = early.addAttachment(randomBytes(5000));
  t.equal(early.pendingAttachmentUploads(), 1, 'offline, the limit is not known yet: the add is kept');
  const failed = nextEvent(early, EventType.AttachmentFailed, (e) => e.booleanData && (e.content as AttachmentRef).$attachment === tooBig.$attachment);
  early.setOnline(true);
  t.match(await failed, { error: /attachment_too_large/, numericData: 0 });
  t.equal(early.pendingAttachmentUploads(), 0, 'not retried');
  t.same(early.attachmentState(tooBig), { local: true, received: 5000, length: 5000, uploaded: false }, 'the bytes stay here');
  t.match(await refusal(() => early.addAttachment(randomBytes(4097))), { code: 'invalid_input', message: /at most 4096 bytes/ });
  t.match(await refusal(() => early.addAttachmentStream((async function* () { yield randomBytes(3000); yield randomBytes(3000); })())), { code: 'invalid_input', message: /at most 4096/ });
  const fits = early.addAttachment(randomBytes(4096));
  await uploaded(early, fits.$attachment);

  // The limit is remembered: a later engine on the same file knows it before it connects.
  await early.close();
  const reopened = h.engine('limits-early', email, { online: false });
  t.match(await refusal(() => reopened.addAttachment(randomBytes(4097))), { code: 'invalid_input' });
});

t.test('over the user\'s attachment_quota_bytes an upload is refused and reported, the others go on', async (t) => {
  const e = h.engine('quota', 'quota@example.com');
  await e.whenSynced();
  const refs = [0, 1, 2].map(() => e.addAttachment(randomBytes(4000)));
  const failed = await nextEvent(e, EventType.AttachmentFailed, (x) => x.booleanData);
  t.match(failed, { content: refs[2], error: /attachment_quota_exceeded/ });
  t.ok(await eventually(() => e.pendingAttachmentUploads() === 0));
  t.same(refs.map((r) => e.attachmentState(r)?.uploaded), [true, true, false]);
});
