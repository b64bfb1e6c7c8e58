import t from 'tap';
import { harness, nextEvent } from './test-support/harness.js';
import { EventType } from './events.js';
t.test('restart', async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const a = h.engine('a', 'bob@example.com');
  await a.whenSynced(10000);
  const lost = nextEvent(a, EventType.ConnectionLost);
  const r = await h.server.stop();
  console.log('stopped', r);
  await lost;
  for (let i = 0; i < 3; i++) {
    try { await h.restartServer(); console.log('restarted on try', i); break; } catch (e) { console.log('fail', i, String(e).slice(0, 300)); await new Promise(r => setTimeout(r, 500)); }
  }
  await a.whenSynced(10000);
  t.pass();
});
