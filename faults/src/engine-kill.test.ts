/**
 * The engine's process SIGKILLed at random points, round after round on the same database file:
 * while it opens, while it connects, while it writes and uploads. A child Node process runs the
 * built engine (client-ts/dist) against a real server and prints each change as soon as the call
 * returned; the test kills it, reopens the file with the engine and checks that every returned
 * change is there locally, reaches the server within 5 s, is applied there exactly once, and that
 * the server and the local view are the same documents.
 *
 * Short: 10 rounds. Long (FAULTS_LONG=1): 40 rounds.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { harness, serverDocs } from '../../client-ts/src/test-support/harness.js';
import { checkDense, LONG, Rng, runSeed, sleep, within } from './support.js';

const ROUNDS = LONG ? 40 : 10;
const SYNC_MS = 5000;

/** The built engine the child process imports (this process runs the TypeScript sources). */
const DIST_INDEX = fileURLToPath(new URL('../../client-ts/dist/src/index.js', import.meta.url));

const CHILD = `import { writeSync } from 'node:fs';
import { SyncEngine } from ${JSON.stringify(DIST_INDEX)};
const opts = JSON.parse(process.argv[2]);
const round = Number(process.argv[3]);
let s = Number(process.argv[4]) >>> 0;
const rand = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
// A line per change, written synchronously right after the call returned.
const out = (line) => writeSync(1, line + '\\n');
const engine = SyncEngine.open(opts);
const live = engine.listDocuments().map((d) => d.id);
out('ready ' + live.length);
for (let i = 0; ; i++) {
  const r = rand();
  if (live.length < 3 || r < 0.35) {
    const id = engine.createDocument({ title: 'round ' + round + ' #' + i, round, i });
    live.push(id);
    out('C ' + id);
  } else if (r < 0.92 || live.length < 6) {
    const id = live[Math.floor(rand() * live.length)];
    const key = 'r' + round + '_' + i;
    engine.mergeDocument(id, { [key]: i });
    out('M ' + id + ' ' + key + ' ' + i);
  } else {
    const id = live.splice(Math.floor(rand() * live.length), 1)[0];
    engine.deleteDocument(id);
    out('D ' + id);
  }
  // Let the engine's socket work between bursts, so the kill can land in the middle of an upload.
  if (i % 4 === 3) await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * 6)));
}
`;

interface Reported {
  created: string[];
  merged: { id: string; key: string; value: number }[];
  deleted: string[];
  ready: boolean;
}

t.test('engine process SIGKILLed at random points: every returned change is local after reopen, on the server within 5 s, once', async (t) => {
  const seed = runSeed();
  t.comment(`seed ${seed} (FAULTS_SEED=${seed} replays the kill points and operations)`);
  const rng = new Rng(seed);
  const h = await harness();
  t.teardown(() => h.teardown());
  const email = 'crashy@example.com';
  const script = join(h.dir, 'engine-child.mjs');
  writeFileSync(script, CHILD);
  const opts = h.options('engine', email);

  const everCreated = new Set<string>();
  const everDeleted = new Set<string>();
  const merges = new Map<string, { key: string; value: number }[]>();
  const outcomes: string[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const label = `round ${round}`;
    // Where to kill: a tenth of the rounds while the engine may still be opening, the rest after
    // it reported ready, 0-700 ms into its work.
    const early = rng.chance(0.1);
    const delay = early ? rng.int(0, 150) : rng.int(0, 700);
    const child = spawn(process.execPath, [script, JSON.stringify(opts), String(round), String(rng.int(0, 2 ** 32 - 1))], { stdio: ['ignore', 'pipe', 'pipe'] });
    // 'close': the process is gone and its pipes are drained, so every line it printed was read.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const rep: Reported = { created: [], merged: [], deleted: [], ready: false };
    let buffer = '';
    let err = '';
    let readyResolve: () => void = () => {};
    const ready = new Promise<void>((r) => (readyResolve = r));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const [kind, id, key, value] = buffer.slice(0, nl).split(' ');
        buffer = buffer.slice(nl + 1);
        if (kind === 'ready') {
          rep.ready = true;
          readyResolve();
        } else if (kind === 'C') rep.created.push(id!);
        else if (kind === 'M') rep.merged.push({ id: id!, key: key!, value: Number(value) });
        else if (kind === 'D') rep.deleted.push(id!);
      }
    });
    if (!early) await within(`${label}: the child engine to open`, Promise.race([ready, exited.then(() => Promise.reject(new Error(`child exited before ready: ${err}`)))]), 20_000);
    await sleep(delay);
    child.kill('SIGKILL');
    const exit = await within(`${label}: the child to die`, exited, 10_000);
    t.equal(exit.signal, 'SIGKILL', `${label}: child killed ${early ? 'early' : 'after ready'} +${delay} ms (${err.trim() ? `stderr: ${err.trim().slice(0, 300)}` : 'no stderr'})`);
    for (const id of rep.created) everCreated.add(id);
    for (const id of rep.deleted) everDeleted.add(id);
    for (const m of rep.merged) merges.set(m.id, [...(merges.get(m.id) ?? []), { key: m.key, value: m.value }]);

    // Reopen the file with the engine.
    const e = h.engine('engine', email);
    const local = new Map(e.listDocuments({ includeDeleted: true }).map((d) => [d.id, d]));
    // A document whose delete was acknowledged and caught up may be gone from the file (see below):
    // each one missing now must be deleted on the server, checked once it is read after the sync.
    const missingAtReopen = [...everCreated].filter((id) => !local.has(id));
    const wronglyLive = [...everDeleted].filter((id) => local.get(id)?.deletedAt === null);
    t.same(wronglyLive, [], `${label}: all ${everDeleted.size} returned deletes are local`);
    const lostMerges = [...merges].flatMap(([id, list]) => list.filter((m) => !everDeleted.has(id) && local.get(id)?.content[m.key] !== m.value).map((m) => ({ id, ...m })));
    t.same(lostMerges.slice(0, 3), [], `${label}: all ${[...merges.values()].reduce((n, l) => n + l.length, 0)} returned merges are in the local view (${lostMerges.length} missing)`);

    // On the server within 5 s.
    const t0 = Date.now();
    const synced = await e.whenSynced(SYNC_MS).then(
      () => null,
      (err: Error) => err.message,
    );
    t.equal(synced, null, `${label}: synced within ${SYNC_MS} ms of the reopen (${Date.now() - t0} ms; ${e.pendingCount()} pending)`);
    // Server = local. A deleted document may be gone from the local file once its delete is
    // acknowledged and caught up; otherwise it is there, deleted, at the server's revision.
    const after = new Map(e.listDocuments({ includeDeleted: true }).map((d) => [d.id, d]));
    const server = await serverDocs(h);
    const view = (d: { content: unknown; revision: number | null }) => ({ content: d.content, revision: d.revision });
    t.same(
      Object.fromEntries([...server].filter(([, s]) => !s.deleted).map(([id, s]) => [id, view({ content: s.content, revision: s.syncRevision })])),
      Object.fromEntries([...after.values()].filter((d) => d.deletedAt === null).map((d) => [d.id, view({ content: d.content, revision: d.syncRevision })])),
      `${label}: the server's live documents are exactly the local live ones (${[...after.values()].filter((d) => d.deletedAt === null).length}), same content and revision`,
    );
    const deletedMismatch = [
      ...[...server].filter(([id, s]) => s.deleted && after.has(id) && (after.get(id)!.deletedAt === null || after.get(id)!.syncRevision !== s.syncRevision)).map(([id]) => id),
      ...[...after.values()].filter((d) => d.deletedAt !== null && !server.get(d.id)?.deleted).map((d) => d.id),
    ];
    t.same(deletedMismatch, [], `${label}: deleted documents agree (server ${[...server.values()].filter((s) => s.deleted).length}, still in the local file ${[...after.values()].filter((d) => d.deletedAt !== null).length})`);
    const lostCreates = missingAtReopen.filter((id) => !server.get(id)?.deleted);
    t.same(lostCreates, [], `${label}: all ${everCreated.size} documents ever returned by createDocument were local after the reopen (${missingAtReopen.length} gone from the file: deleted on the server)`);
    const notOnServer = [...everCreated].filter((id) => !server.has(id));
    const deleteNotOnServer = [...everDeleted].filter((id) => !server.get(id)?.deleted);
    t.same({ creates: notOnServer, deletes: deleteNotOnServer }, { creates: [], deletes: [] }, `${label}: every returned create and delete is on the server`);

    // Exactly once: no change twice in the log, sequences dense, one event per revision of each
    // document, and the log's changes of every document still in the file are exactly its local history.
    const log = await checkDense(t, h.tdb.db, label);
    const perDoc = new Map<string, string[]>();
    for (const row of log) perDoc.set(row.document_id, [...(perDoc.get(row.document_id) ?? []), row.mutation_id]);
    const revisionMismatch = [...server].filter(([id, s]) => (perDoc.get(id)?.length ?? 0) !== s.syncRevision).map(([id]) => id);
    t.same(revisionMismatch, [], `${label}: each server document's revision counts its change events (${log.length} events)`);
    const historyMismatch = [...after.keys()].filter((id) => {
      const local = e.history(id).filter((x) => x.origin === 'local' && x.mutationId).map((x) => x.mutationId!).sort();
      return JSON.stringify(local) !== JSON.stringify([...(perDoc.get(id) ?? [])].sort());
    });
    t.same(historyMismatch.slice(0, 3), [], `${label}: for all ${after.size} documents in the file, the server applied exactly the changes of its local history (${historyMismatch.length} differ)`);
    outcomes.push(`${early ? 'early' : 'ready'}+${delay}ms:${rep.created.length}C/${rep.merged.length}M/${rep.deleted.length}D`);
    await e.close();
    if (!t.passing()) break;
  }
  t.comment(`rounds: ${outcomes.join(' ')}`);
  t.ok(everCreated.size > 0 && merges.size > 0, `the child returned changes before its kills (${everCreated.size} creates, ${merges.size} documents merged, ${everDeleted.size} deletes)`);
});
