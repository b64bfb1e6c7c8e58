import t from 'tap';
import { engineParts, ScriptedWire } from '../test-support/parts.js';
import { creationEvent } from '../test-support/stream.js';
import type { Inbox, InboxItem } from './inbox.js';

/** `n` pushes of new documents, in sequence order from 1. */
function pushes(n: number): InboxItem[] {
  return Array.from({ length: n }, (_, i) => ({ type: 'change', change: creationEvent(i + 1, { title: `created ${i + 1}` }) }));
}

/** Pushes the messages and waits until the inbox has applied them; returns how many slices (commits) that took. */
async function slices(inbox: Inbox, parts: ReturnType<typeof engineParts>, messages: InboxItem[]): Promise<number> {
  let commits = 0;
  const off = parts.ctx.counts.onCommitted(() => commits++);
  for (const m of messages) inbox.push(m);
  while (inbox.size > 0) await new Promise((resolve) => setImmediate(resolve));
  off();
  return commits;
}

t.test('messages that arrive together share slices of about a millisecond', async (t) => {
  const parts = engineParts(t);
  const { inbox } = parts.ctx;
  const n = await slices(inbox, parts, pushes(50));
  t.ok(n < 50, `50 messages in ${n} slices`);
  t.equal(parts.ctx.counts.documents, 50);
});

t.test('while calls from outside wait, a slice ends after the message at hand, each in order', async (t) => {
  let asked = 0;
  const parts = engineParts(t, { yielding: () => (asked++, true) });
  const { inbox } = parts.ctx;
  t.equal(await slices(inbox, parts, pushes(5)), 5, 'one message per slice');
  t.equal(asked, 5, 'asked after each message');
  t.equal(parts.ctx.cursor.value, 5, 'all applied, in sequence order');
  t.equal(parts.ctx.counts.documents, 5);
});

t.test('a catch-up page is applied event by event: a slice can end inside it, and the page ends caught up', async (t) => {
  const wire = new ScriptedWire();
  const parts = engineParts(t, { wire, yielding: () => true });
  const { inbox, session } = parts.ctx;
  session.authenticated(0);
  t.same(wire.take(), [{ type: 'get_changes_since', last_sequence: 0, limit: 500 }], 'a login to an empty log asks for pages');
  const events = Array.from({ length: 4 }, (_, i) => creationEvent(i + 1, { title: `caught up ${i}` }));
  let commits = 0;
  const off = parts.ctx.counts.onCommitted(() => commits++);
  inbox.push({ type: 'changes', events, latest_sequence: 4, has_more: false });
  while (inbox.size > 0) await new Promise((resolve) => setImmediate(resolve));
  off();
  t.equal(commits, 5, 'four events and the page end, one slice each while calls wait');
  t.equal(parts.ctx.cursor.value, 4, 'every event applied, in order');
  t.equal(parts.ctx.counts.documents, 4);
  t.equal(session.busy, false, 'the page end left nothing being caught up');
  t.equal(session.current.name, 'live');
});
