/**
 * The container image, built and run here. No image registry is reachable, so the base image the
 * Dockerfile's FROM names (docker.io/library/debian:bookworm-slim) is made from Debian's packages
 * (mmdebstrap --variant=minbase, then `podman import`), once per machine; then the real Dockerfile
 * is built with podman (its RUN steps fetch Debian's and npm's packages, so the build uses the
 * host's network) and the image run against a test database.
 *
 * Holds: the container runs as the image's own user, answers /health on its health port (raw
 * HTTP/1.0, as HAProxy asks), its HEALTHCHECK passes, a TypeScript engine syncs a document through
 * it, and `podman stop` (SIGTERM) ends it with exit 0 within 5 s.
 *
 * Skipped, saying why, when podman or mmdebstrap is missing (scripts/install-deploy-deps.sh
 * installs them; .ci/run calls it).
 */
import t, { type Test } from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from '@json-sync/test-support';
import { SyncEngine } from '../../client-ts/src/engine.js';
import { freePort, waitFor } from './support.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BASE = 'docker.io/library/debian:bookworm-slim';
const IMAGE = 'localhost/json-sync/server:test';
const MIRROR = process.env.DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

function missingTool(): string | null {
  for (const tool of ['podman', 'mmdebstrap']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).error) return `${tool} is not installed (bash scripts/install-deploy-deps.sh installs it)`;
  }
  return null;
}

function run(cmd: string, args: string[], timeoutMs = 20 * 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout.slice(-4000)}${stderr.slice(-4000)}`));
      else resolve(stdout.trim());
    });
  });
}

/** The Dockerfile's base image from Debian's packages, unless this machine has it already. */
async function ensureBaseImage(t: Test): Promise<void> {
  if (spawnSync('podman', ['image', 'exists', BASE]).status === 0) return t.comment(`${BASE}: already here`);
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-base-'));
  try {
    const tar = join(dir, 'base.tar');
    const t0 = Date.now();
    await run('mmdebstrap', ['--variant=minbase', '--mode=root', '--quiet', 'bookworm', tar, MIRROR]);
    await run('podman', ['import', tar, BASE]);
    t.comment(`${BASE}: made with mmdebstrap in ${Math.round((Date.now() - t0) / 1000)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A raw HTTP/1.0 request without Host, as HAProxy's default check sends it: the status line's code, or 0. */
function check(port: number): Promise<number> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET /health HTTP/1.0\r\n\r\n'));
    let answer = '';
    s.setEncoding('utf8').on('data', (d: string) => (answer += d));
    s.on('error', () => resolve(0));
    s.on('close', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0)));
    s.setTimeout(3000, () => s.destroy());
  });
}

const missing = missingTool();

t.test('the image: built from the Dockerfile on a Debian base made here, it serves and syncs', { skip: missing ?? false }, async (t) => {
  await ensureBaseImage(t);
  const t0 = Date.now();
  // This machine's TLS may be re-signed by a proxy whose CA only the host's bundle holds: npm in
  // the build gets that bundle as a secret (the Dockerfile says how), never as a layer.
  const bundle = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find((f) => f && existsSync(f));
  const caSecret = bundle ? ['--secret', `id=npm_cafile,src=${bundle}`] : [];
  await run('podman', ['build', '--network', 'host', '--format', 'docker', ...caSecret, '-t', IMAGE, '-f', join(REPO, 'Dockerfile'), REPO]);
  t.comment(`podman build: ${Math.round((Date.now() - t0) / 1000)} s`);

  const tdb = await createTestDatabase('faults_image');
  t.teardown(() => tdb.drop());
  const { apiKey, secret } = await tdb.credentials();
  const [port, healthPort] = [await freePort(), await freePort()];
  const id = await run('podman', [
    'run', '-d', '--network', 'host',
    '-e', `DATABASE_URL=${tdb.url}`, '-e', `SYNC_PORT=${port}`, '-e', `SYNC_HEALTH_PORT=${healthPort}`, '-e', 'SYNC_HOST=127.0.0.1',
    IMAGE,
  ]);
  t.teardown(() => run('podman', ['rm', '-f', id]).catch(() => {}));
  const logs = () => run('podman', ['logs', id]).catch((e: Error) => e.message);

  await waitFor('the container to answer /health', async () => (await check(healthPort)) === 200, 60_000, 250).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await logs()}`);
  });
  t.pass('GET /health HTTP/1.0 without Host: 200 on the health port');
  t.equal(await run('podman', ['exec', id, 'id', '-u']), '10001', 'the server runs as the image\'s user sync-server (uid 10001), not root');
  t.equal(spawnSync('podman', ['healthcheck', 'run', id]).status, 0, "the image's HEALTHCHECK passes");
  t.match(await logs(), /sync-server listening on ws:\/\/127\.0\.0\.1:\d+\/ws \(database: PostgreSQL\)/, 'sync-server serve, on PostgreSQL from DATABASE_URL');

  const dir = mkdtempSync(join(tmpdir(), 'json-sync-image-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const options = (name: string) => ({ databasePath: join(dir, `${name}.db`), serverUrl: `ws://127.0.0.1:${port}/ws`, email: 'image@example.com', apiKey, apiSecret: secret });
  const a = SyncEngine.open(options('a'));
  const b = SyncEngine.open(options('b'));
  t.teardown(async () => {
    await a.close(200).catch(() => {});
    await b.close(200).catch(() => {});
  });
  const docId = a.createDocument({ title: 'through the container' });
  await a.whenSynced(30_000);
  await waitFor('the second engine to receive the document', () => b.getDocument(docId)?.content.title === 'through the container', 30_000);
  t.pass('a document written by one engine reached the other through the container');

  const stopped = Date.now();
  await run('podman', ['stop', '-t', '10', id]);
  const ms = Date.now() - stopped;
  t.equal(await run('podman', ['inspect', '--format', '{{.State.ExitCode}}', id]), '0', 'SIGTERM: exit 0');
  t.ok(ms < 5000, `stopped within 5 s (${ms} ms)`);
});
