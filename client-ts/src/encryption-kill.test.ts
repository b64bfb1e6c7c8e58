import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyncEngine, type EngineOptions } from './engine.js';
import { SyncError } from './errors.js';
import { harness, serverDocs } from './test-support/harness.js';

/** The built engine the child process imports (this process runs the TypeScript source). */
const DIST_INDEX = fileURLToPath(new URL('../dist/src/index.js', import.meta.url));
const ROUNDS = Number(process.env.SYNC_REKEY_KILL_ROUNDS ?? 10);
/** Filler documents that make a rekey last long enough (≈ 8 MB) for kills to land inside it. */
const FILLER_DOCS = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The child: opens the engine online with `key`, writes (and prints each id once the call has
 * returned: an acknowledged change) while another engine's changes stream in, then rekeys to
 * `next` and keeps writing. The parent kills it at a random moment of the rekey.
 */
const CHILD = `import { SyncEngine } from ${JSON.stringify(DIST_INDEX)};
const [opts, key, next, filler] = process.argv.slice(2);
const engine = SyncEngine.open({ ...JSON.parse(opts), encryptionKey: Buffer.from(key, 'hex') });
const say = (line) => process.stdout.write(line + '\\n');
if (engine.countDocuments() < Number(filler)) {
  const pad = 'x'.repeat(8000);
  for (const id of engine.createDocuments(Array.from({ length: Number(filler) }, (_, i) => ({ filler: i, pad })))) say('ack ' + id);
}
let n = 0;
const write = () => {
  say('ack ' + engine.createDocument({ title: 'app ' + n++, at: Date.now() }));
  if (n === 30) {
    say('rekey');
    const started = Date.now();
    engine.rekey(Buffer.from(next, 'hex'));
    say('rekeyed ' + (Date.now() - started));
  }
  setTimeout(write, 2);
};
write();
`;

interface Outcome {
  acked: string[];
  interrupted: boolean;
  /** How long the rekey took, when it ended before the kill. */
  rekeyMs: number | undefined;
}

t.test(`rekey under load, SIGKILLed at random points (${ROUNDS} rounds): the old or the new key opens, every acknowledged change is there, the engine syncs on`, async (t) => {
  const h = await harness();
  t.teardown(() => h.teardown());
  const email = 'rekey-kill@example.com';
  const script = join(h.dir, 'rekey-child.mjs');
  writeFileSync(script, CHILD);
  const opts: EngineOptions = { ...h.options('victim', email), logger: undefined };
  // The other engine: its changes stream into the victim's during every round.
  const remote = h.engine('remote', email);
  const remoteIds: string[] = [];
  let streaming = true;
  const stream = (async () => {
    while (streaming) {
      remoteIds.push(remote.createDocument({ title: `remote ${remoteIds.length}` }));
      await sleep(5);
    }
  })();

  let key = randomBytes(32);
  let killWindowMs = 400;
  const acked = new Set<string>();
  let interruptions = 0;
  const openedWith = { old: 0, new: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    const next = randomBytes(32);
    const outcome = await runRound(script, opts, key, next, Math.random() * killWindowMs);
    // A rekey that ended before its kill says how long one takes here: later kills fall inside that.
    if (outcome.rekeyMs !== undefined) killWindowMs = Math.max(10, outcome.rekeyMs);
    for (const id of outcome.acked) acked.add(id);
    if (outcome.interrupted) interruptions++;
    // The old key or the new one opens it (never both: the rekey committed or it did not).
    const opened = openEither(opts, key, next);
    t.ok(opened, `round ${round}: one of the two keys opens the database`);
    if (!opened) break;
    const { engine, which } = opened;
    openedWith[which]++;
    if (which === 'new') key = next;
    const missing = [...acked].filter((id) => engine.getDocument(id) === null);
    t.same(missing, [], `round ${round} (${which} key${outcome.interrupted ? ', killed mid-rekey' : ''}): every acknowledged change is there`);
    await engine.close();
  }
  t.ok(interruptions >= Math.ceil(ROUNDS / 2), `${interruptions} of ${ROUNDS} kills landed inside the rekey (a hot journal was left)`);
  t.comment(`reopened with the old key ${openedWith.old} times, with the new key ${openedWith.new} times`);

  streaming = false;
  await stream;
  const engine = SyncEngine.open({ ...opts, encryptionKey: key });
  t.teardown(() => engine.close());
  await remote.whenSynced(20_000);
  await engine.whenSynced(60_000);
  const server = await serverDocs(h);
  t.same([...acked].filter((id) => !server.has(id)), [], 'every acknowledged change reached the server');
  await waitUntil(() => remoteIds.every((id) => engine.getDocument(id) !== null), 20_000);
  t.same(remoteIds.filter((id) => engine.getDocument(id) === null), [], "every one of the other engine's changes arrived");
});

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check() && Date.now() < until) await sleep(50);
}

/** Runs the child until it says `rekey`, waits `killAfterMs`, SIGKILLs it; answers what it acknowledged. */
async function runRound(script: string, opts: EngineOptions, key: Buffer, next: Buffer, killAfterMs: number): Promise<Outcome> {
  const child = spawn(process.execPath, [script, JSON.stringify(opts), key.toString('hex'), next.toString('hex'), String(FILLER_DOCS)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const acked: string[] = [];
  let rekeyMs: number | undefined;
  let err = '';
  let buffered = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('ack ')) acked.push(line.slice(4));
        if (line.startsWith('rekeyed ')) rekeyMs = Number(line.slice(8));
        if (line === 'rekey') setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    void exited.then(() => (child.signalCode === 'SIGKILL' ? resolve() : reject(new Error(`the child exited by itself: ${err}`))));
  });
  // Only lines the child wrote before it died count: each was written after its call returned.
  const interrupted = existsSync(`${opts.databasePath}-journal`) || existsSync(`${opts.databasePath}-rekey`);
  return { acked, interrupted, rekeyMs };
}

function openEither(opts: EngineOptions, key: Buffer, next: Buffer): { engine: SyncEngine; which: 'old' | 'new' } | null {
  for (const [which, k] of [['old', key], ['new', next]] as const) {
    try {
      return { engine: SyncEngine.open({ ...opts, encryptionKey: k, online: false }), which };
    } catch (err) {
      if (!(err instanceof SyncError) || err.code !== 'wrong_key') throw err;
    }
  }
  return null;
}
