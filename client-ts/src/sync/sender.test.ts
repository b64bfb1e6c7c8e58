import t from 'tap';
import { canonicalJson, newUuid, type ClientMessage } from '@json-sync/core';
import { eventually } from '../test-support/harness.js';
import { ModelServer } from '../test-support/model-server.js';
import { engineParts, ScriptedWire, type Parts } from '../test-support/parts.js';
import { createPlan } from './local-changes.js';
import { MAX_IN_FLIGHT_PAYLOAD } from './sender.js';

/** Creates written offline, in order; returns their ids. */
function createOffline(p: Parts, n: number, content: (i: number) => { title: string; body?: string }): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = newUuid();
    p.local.change(id, 'local', createPlan(id, content(i)));
    ids.push(id);
  }
  return ids;
}

function goOnline(wire: ScriptedWire, p: Parts): void {
  wire.live = true;
  p.ctx.inbox.connected();
  p.ctx.session.authenticated(0);
}

const creates = (messages: ClientMessage[]) => messages.filter((m) => m.type === 'create_document');

t.test('large changes: the unanswered payload on the connection stays near MAX_IN_FLIGHT_PAYLOAD, and each answer lets the next one go', async (t) => {
  const wire = new ScriptedWire();
  wire.live = false;
  const p = engineParts(t, { wire });
  const content = (i: number) => ({ title: `d${i}`, body: 'x'.repeat(500_000) });
  const size = canonicalJson(content(0)).length;
  const ids = createOffline(p, 40, content);

  goOnline(wire, p);
  const first = creates(wire.take());
  const window = Math.ceil(MAX_IN_FLIGHT_PAYLOAD / size);
  t.equal(first.length, window, `${window} of 40 sent: the window is full once it holds ${MAX_IN_FLIGHT_PAYLOAD} characters`);
  t.same(
    first.map((m) => m.type === 'create_document' && m.document.id),
    ids.slice(0, window),
    'the oldest first',
  );
  t.equal(p.ctx.session.sender.inFlightCount, window);

  const server = new ModelServer();
  for (const reply of server.receive(first[0]!, p.ctx.clientId)) p.ctx.inbox.push(reply);
  await eventually(() => wire.sent.some((m) => m.type === 'create_document'), 5000);
  const next = creates(wire.take());
  t.same(
    next.map((m) => m.type === 'create_document' && m.document.id),
    [ids[window]],
    'one answer frees room for one more',
  );

  // A lost connection empties the window: the next login sends the same amount again, oldest first.
  p.ctx.session.lost(1006);
  wire.live = false;
  goOnline(wire, p);
  const resent = creates(wire.take());
  t.equal(resent.length, window, 'after a reconnect the window refills to the same size');
  t.same(
    resent.map((m) => m.type === 'create_document' && m.document.id),
    ids.slice(1, 1 + window),
    'the unanswered ones again, oldest first (the answered one is done)',
  );
});

t.test('small changes: the window is bounded by count, not payload', async (t) => {
  const wire = new ScriptedWire();
  wire.live = false;
  const p = engineParts(t, { wire });
  createOffline(p, 600, (i) => ({ title: `small ${i}` }));
  goOnline(wire, p);
  t.equal(creates(wire.take()).length, 512, '512 unanswered at most');
});
