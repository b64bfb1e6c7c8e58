// Sync phases: local writes with a server connected, an offline backlog uploaded (to the real
// server, and to one answering from memory: the engine's own share), remote changes caught up,
// and a reconnect after many updates to few documents (compacted catch-up).
import { EventType } from '../../client-ts/dist/src/index.js';
import { bulkCreate, engineCreates, engineUpdates } from './local.mjs';
import { content, eventOf, now, openEngine } from './engines.mjs';
import { startMemoryServer } from './memory-server.mjs';

const connect = (srv, email) => ({ serverUrl: srv.url, apiKey: srv.apiKey, apiSecret: srv.secret, email });

export async function onlinePhase(srv, count) {
  const engine = openEngine('online', connect(srv, 'bench-online@example.com'));
  await engine.whenSynced(30_000);
  let t0 = now();
  const { ids, rate: creates } = await engineCreates(engine, count);
  const createsUnanswered = engine.pendingCount();
  await engine.whenSynced(120_000);
  const createsSynced = count / ((now() - t0) / 1000);
  t0 = now();
  const updates = await engineUpdates(engine, ids, count);
  const updatesUnanswered = engine.pendingCount();
  await engine.whenSynced(120_000);
  const updatesSynced = count / ((now() - t0) / 1000);
  const doc = engine.getDocument(ids[count - 1]);
  if (doc.syncRevision !== 2 || doc.pending !== 0) throw new Error(`last document at revision ${doc.syncRevision} with ${doc.pending} pending`);
  await engine.close();
  return { creates, createsUnanswered, createsSynced, updates, updatesUnanswered, updatesSynced };
}

/** `count` creates made offline, then online: changes per second until the server answered all. */
async function upload(name, target, count) {
  const engine = openEngine(name, { ...target, online: false });
  await bulkCreate(engine, count);
  const t0 = now();
  engine.setOnline(true);
  await engine.whenSynced(300_000);
  const rate = count / ((now() - t0) / 1000);
  if (engine.pendingCount() !== 0) throw new Error(`${engine.pendingCount()} changes left unanswered`);
  await engine.close();
  return rate;
}

export async function uploadPhase(srv, count) {
  const memory = await startMemoryServer();
  try {
    const engineShare = await upload('upload-memory', { serverUrl: memory.url, email: 'bench-upload@example.com', apiKey: 'rpa_none', apiSecret: 'rps_none' }, count);
    const real = await upload('upload-real', connect(srv, 'bench-upload@example.com'), count);
    return { real, engineShare };
  } finally {
    await memory.close();
  }
}

/** An engine away while another uploads `count` changes; then online: changes per second until it has them all. */
/** `extra` goes to both engines (bench/client/encryption.mjs passes a key); `tag` keeps runs apart (files, user). */
export async function catchUpPhase(srv, count, extra = {}, tag = '') {
  const email = `bench-catchup${tag}@example.com`;
  const reader = openEngine(`catchup-reader${tag}`, { ...connect(srv, email), ...extra });
  await reader.whenSynced(30_000);
  reader.createDocument(content(0));
  await reader.whenSynced(30_000);
  reader.setOnline(false);
  const writer = openEngine(`catchup-writer${tag}`, { ...connect(srv, email), ...extra, online: false });
  await bulkCreate(writer, count);
  writer.setOnline(true);
  await writer.whenSynced(300_000);
  await writer.close();
  const t0 = now();
  const synced = eventOf(reader, [EventType.SyncCompleted]);
  reader.setOnline(true);
  await synced;
  await reader.whenSynced(300_000);
  const rate = count / ((now() - t0) / 1000);
  if (reader.countDocuments() !== count + 1) throw new Error(`the reader has ${reader.countDocuments()} documents, not ${count + 1}`);
  await reader.close();
  return rate;
}

/** `updates` updates to `documents` documents while an engine is away: seconds from its reconnect until synced. */
export async function reconnectPhase(srv, documents, updates) {
  const email = 'bench-reconnect@example.com';
  const writer = openEngine('reconnect-writer', connect(srv, email));
  await writer.whenSynced(30_000);
  const { ids } = await bulkCreate(writer, documents);
  await writer.whenSynced(60_000);
  const reader = openEngine('reconnect-reader', connect(srv, email));
  await reader.whenSynced(60_000);
  reader.setOnline(false);
  for (let j = 0; j < updates; j++) writer.mergeDocument(ids[j % documents], { counter: j });
  await writer.whenSynced(300_000);
  const t0 = now();
  reader.setOnline(true);
  await eventOf(reader, [EventType.SyncCompleted]);
  await reader.whenSynced(60_000);
  const seconds = (now() - t0) / 1000;
  const last = reader.getDocument(ids[(updates - 1) % documents]);
  if (last.content.counter !== updates - 1) throw new Error(`the reader's last document has counter ${last.content.counter}`);
  await Promise.all([writer.close(), reader.close()]);
  return seconds;
}
