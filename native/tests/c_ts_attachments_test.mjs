// c_ts_attachments_test.mjs ENV_FILE C_PEER — attachments between a C engine (C_PEER, built from
// c_ts_attachments.c and driven through its stdin) and a TypeScript engine (client-ts/dist) of the
// same user on the ctest fixture's server, both ways:
//   1. the TypeScript engine adds, the C engine gets;
//   2. the C engine adds, the TypeScript engine gets;
// 0 and 1 bytes, a chunk (262144) - 1, a chunk and a chunk + 1 through memory (addAttachment /
// sync_engine_add_attachment, getAttachment / sync_engine_get_attachment), and 200 MiB through files
// (addAttachmentFile / sync_engine_add_attachment_file, saveAttachment / sync_engine_save_attachment),
// so that neither end holds it in memory. The sender's reference must name the SHA-256 of the bytes
// as this script computes it (node:crypto) and the C program too (coreutils' sha256sum); the bytes
// received must have that SHA-256 and length, and the small ones are compared byte for byte.
// Each way has a user of its own: the empty attachment is one id, which the second way's receiver
// would otherwise hold already. The sender's upload is waited for through its completion event and
// its pending count.
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readFixtureEnv } from './fixture-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { SyncEngine } = await import(join(root, 'client-ts', 'dist', 'src', 'index.js'));
const [envFile, cPeer] = process.argv.slice(2);
if (!cPeer) {
  console.error('usage: c_ts_attachments_test.mjs ENV_FILE C_PEER (run through ctest: the sync_server fixture writes ENV_FILE)');
  process.exit(2);
}
const env = readFixtureEnv(envFile);
const CHUNK = 262144;
const SMALL = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1];
const BIG = 200 * 1024 * 1024;
// Generous: two cores shared with the rest of the suite, and 200 MiB to move.
const STEP_TIMEOUT_MS = 60_000;
const work = mkdtempSync(join(tmpdir(), 'c-ts-attachments-'));
const started = Date.now();

function log(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);
}

async function until(what, check) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function expectEqual(what, got, want) {
  if (got !== want) throw new Error(`${what}: ${got}, expected ${want}`);
}

const idOf = (hash) => `sha256-${hash.digest('hex')}`;
const idOfBytes = (bytes) => idOf(createHash('sha256').update(bytes));

async function idOfFile(path) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk);
  return idOf(hash);
}

/** Writes `length` random bytes to `path` a MiB at a time; returns their id. */
function writeRandomFile(path, length) {
  const hash = createHash('sha256');
  const block = Buffer.alloc(1024 * 1024);
  const fd = openSync(path, 'w');
  try {
    for (let left = length; left > 0; left -= block.length) {
      const part = randomFillSync(block).subarray(0, Math.min(left, block.length));
      hash.update(part);
      writeSync(fd, part);
    }
  } finally {
    closeSync(fd);
  }
  return idOf(hash);
}

/** The C program as an engine of `email`: ask(command) answers its reply's words. */
async function startPeer(email) {
  const child = spawn(cPeer, [email], { env: { ...process.env, SYNC_TEST_ENV: envFile }, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  child.stdin.on('error', () => {}); // EPIPE once it has ended: its exit code tells why
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (what) => {
    const line = await Promise.race([lines.next(), exited.then((code) => ({ exit: code }))]);
    if (!line.value) throw new Error(`c_ts_attachments ended (${line.exit ?? (await exited)}) during ${what}`);
    return line.value.split(' ');
  };
  expectEqual('the C engine', (await next('opening'))[0], 'ready');
  return {
    async ask(command) {
      child.stdin.write(`${command}\n`);
      return next(command);
    },
    /** Ends it through its stdin (it then removes its files), or, when it does not exit within 15 s, kills it; answers the exit code. */
    async end() {
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill(), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A TypeScript engine of `email`, and the ids of the uploads it finished. */
async function openEngine(email) {
  const engine = SyncEngine.open({
    databasePath: join(work, `${email}.db`),
    serverUrl: env.SERVER_URL,
    email,
    apiKey: env.API_KEY,
    apiSecret: env.API_SECRET,
    reconnect: { minMs: 250, maxMs: 2000 },
  });
  const uploaded = new Set();
  engine.on('attachmentCompleted', (e) => e.booleanData && uploaded.add(e.content.$attachment));
  await until('the TypeScript engine to connect', () => engine.isConnected());
  return { engine, uploaded };
}

const rate = (since) => `${(BIG / 1e6 / ((Date.now() - since) / 1000)).toFixed(0)} MB/s`;

async function typeScriptToC({ engine, uploaded }, peer) {
  const upload = async (ref, length) => {
    expectEqual(`the length in the reference to ${length} bytes`, ref.length, length);
    await until(`the upload of ${length} bytes`, () => uploaded.has(ref.$attachment) && engine.pendingAttachmentUploads() === 0);
  };
  for (const length of SMALL) {
    const bytes = randomBytes(length);
    const ref = engine.addAttachment(bytes);
    expectEqual(`the id of ${length} bytes`, ref.$attachment, idOfBytes(bytes));
    await upload(ref, length);
    const path = join(work, 'c-got');
    const [, got, gotLength] = await peer.ask(`get ${ref.$attachment} ${path}`);
    expectEqual(`sha256sum of the ${length} bytes the C engine got`, got, ref.$attachment);
    expectEqual('their length', Number(gotLength), length);
    if (!readFileSync(path).equals(bytes)) throw new Error(`the C engine got other bytes than the ${length} added`);
    log(`TypeScript → C: ${length} bytes`);
  }
  const source = join(work, 'ts-big');
  const id = writeRandomFile(source, BIG);
  let since = Date.now();
  const ref = await engine.addAttachmentFile(source);
  rmSync(source);
  expectEqual('the id of the 200 MiB file', ref.$attachment, id);
  log(`TypeScript added 200 MiB (${rate(since)})`);
  since = Date.now();
  await upload(ref, BIG);
  log(`TypeScript uploaded 200 MiB (${rate(since)})`);
  since = Date.now();
  const saved = join(work, 'c-saved');
  const [, got, gotLength] = await peer.ask(`save ${id} ${saved}`);
  expectEqual('sha256sum of the file the C engine saved', got, id);
  expectEqual('its length', Number(gotLength), BIG);
  rmSync(saved);
  log(`TypeScript → C: 200 MiB, downloaded and saved by C (${rate(since)})`);
}

async function cToTypeScript({ engine }, peer) {
  for (const length of SMALL) {
    const bytes = randomBytes(length);
    const path = join(work, 'c-adds');
    writeFileSync(path, bytes);
    const [, id] = await peer.ask(`add ${path}`);
    expectEqual(`the id of the ${length} bytes the C engine added`, id, idOfBytes(bytes));
    const got = await engine.getAttachment(id);
    expectEqual(`the SHA-256 of the ${length} bytes the TypeScript engine got`, idOfBytes(got), id);
    if (!got.equals(bytes)) throw new Error(`the TypeScript engine got ${got.length} other bytes than the ${length} added`);
    log(`C → TypeScript: ${length} bytes`);
  }
  const source = join(work, 'c-big');
  const id = writeRandomFile(source, BIG);
  let since = Date.now();
  expectEqual('the id of the 200 MiB file the C engine added', (await peer.ask(`add-file ${source}`))[1], id);
  rmSync(source);
  log(`C added and uploaded 200 MiB (${rate(since)})`);
  since = Date.now();
  const saved = join(work, 'ts-saved');
  await engine.saveAttachment(id, saved);
  expectEqual('the SHA-256 of the file the TypeScript engine saved', await idOfFile(saved), id);
  expectEqual('its length', statSync(saved).size, BIG);
  rmSync(saved);
  log(`C → TypeScript: 200 MiB, downloaded and saved by TypeScript (${rate(since)})`);
}

let ts;
let peer;
try {
  for (const [way, roundTrips] of [
    ['ts-to-c', typeScriptToC],
    ['c-to-ts', cToTypeScript],
  ]) {
    const email = `c-ts-attachments-${way}-${process.pid}-${Date.now()}@example.com`;
    ts = await openEngine(email);
    peer = await startPeer(email);
    await roundTrips(ts, peer);
    const code = await peer.end();
    peer = undefined;
    expectEqual('c_ts_attachments exit', code, 0);
    await ts.engine.close(1000);
    ts = undefined;
  }
  log('OK');
} catch (err) {
  console.error(`FAIL: ${err.stack}`);
  process.exitCode = 1;
} finally {
  await peer?.end();
  await ts?.engine.close(1000);
  rmSync(work, { recursive: true, force: true });
}
