import t from 'tap';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startTestServer, TestClient } from '@json-sync/test-support';
import { SERVER_VERSION } from './version.js';

// GET / in a real headless browser (Debian's chromium, installed by scripts/install-test-deps.sh):
// the page loads without a console error, and shows a non-zero change rate while a client writes.

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// As root on a machine without network: no sandbox, and nothing that reaches out on its own.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash scripts/install-test-deps.sh\` (Debian's chromium)`);

const ts = await startTestServer({ prefix: 'status_page' });
const identity = { email: 'status@example.com', apiKey: ts.apiKey, secret: ts.secret };
const writer = await TestClient.connect(ts.url, identity);
const reader = await TestClient.connect(ts.url, identity);
let browser: Browser | undefined;
t.teardown(async () => {
  await browser?.close();
  writer.close();
  reader.close();
  await ts.teardown();
});

/** Creates documents one after another until stopped; resolves with how many. */
function keepWriting(): { stop(): Promise<number> } {
  let writing = true;
  const done = (async () => {
    let n = 0;
    while (writing) await writer.create({ title: `change ${n++}` });
    return n;
  })();
  return {
    stop: async () => {
      writing = false;
      return done;
    },
  };
}

t.test('the status page in headless Chromium: no console errors, its readings follow a client writing', async (t) => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });

  const writing = keepWriting();
  t.teardown(() => writing.stop());
  const response = await page.goto(`${ts.httpUrl}/`);
  t.equal(response?.status(), 200);
  t.match(response?.headers()['content-type'], /^text\/html/);
  const text = (id: string) => page.locator(`#${id}`).innerText();
  // '–' before the first reading: 0.
  const count = async (id: string) => Number((await text(id)).replace(/,/g, '')) || 0;
  const chartPoints = async () => ((await page.locator('#rate-line').getAttribute('points')) ?? '').split(' ').filter(Boolean).length;
  // The script has run (its CSP hash matched): it shows the committed changes growing as the writes
  // go on, a reading of their rate, and a line of at least two readings. (Read from here: the
  // page's CSP forbids evaluating strings in it.) Counts only: how fast the writes go is bench/'s.
  const first = await count('changes');
  const deadline = Date.now() + 15_000;
  while (!((await count('changes')) > first && (await chartPoints()) >= 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.ok((await count('changes')) > first, `the committed changes shown grew while a client wrote: ${first} → ${await text('changes')}`);
  t.match(await text('rate'), /^[\d,]+(\.\d+)?$/, 'a rate reading is shown');
  t.ok((await chartPoints()) >= 2, 'the chart has a line');
  t.equal(await text('version'), SERVER_VERSION);
  t.equal(await text('connections'), '2');
  t.equal(await text('users'), '1');
  t.match(await text('uptime'), /^\d+ (s|min)/);
  t.match(await text('latency'), /^[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms$/);
  t.match(await text('state'), /^updated /);
  const written = await writing.stop();
  t.ok(written > 0, `${written} documents written meanwhile`);

  // What the page shows comes from the counters /metrics reports.
  const [status, metrics] = await Promise.all([
    fetch(`${ts.httpUrl}/status.json`).then((r) => r.json() as Promise<{ changes: { total: number }; batches: { count: number }; connections: number; usersOnline: number }>),
    fetch(`${ts.httpUrl}/metrics`).then((r) => r.text()),
  ]);
  const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
  t.equal(status.changes.total, written);
  t.equal(status.changes.total, metric('sync_changes_committed_total'));
  t.equal(status.batches.count, metric('sync_batch_seconds_count'));
  t.equal(status.connections, metric('sync_connections'));
  t.equal(status.usersOnline, metric('sync_users_online'));
  t.strictSame(problems, [], 'no console errors, failed requests or error responses');
});
