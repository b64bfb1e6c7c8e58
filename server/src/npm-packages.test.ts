import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createTestDatabase, credentialsFrom } from '@json-sync/test-support';

// The three npm packages as a user gets them: packed, installed from the tarballs into an empty
// project outside this repository (so nothing resolves to its node_modules), and used there — the
// server from its installed `sync-server` command, the engine from ESM, CommonJS and TypeScript.
const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const big = { maxBuffer: 64 * 1024 * 1024 };

const dir = mkdtempSync(join(tmpdir(), 'json-sync-packages-'));
const tdb = await createTestDatabase('npm_packages');
t.teardown(async () => {
  await tdb.drop();
  rmSync(dir, { recursive: true, force: true });
});

t.test('core, client and server pack, install into an empty project, and work there', async (t) => {
  const packed = await run('npm', ['pack', '-w', 'core', '-w', 'client-ts', '-w', 'server', '--pack-destination', dir, '--json'], { cwd: root, ...big });
  const tarballs = (JSON.parse(packed.stdout) as { filename: string; name: string; version: string; files: { path: string }[] }[]).map((p) => ({ ...p, filename: p.filename.replace(/^@/, '').replace('/', '-') }));
  t.same(tarballs.map((p) => p.name).sort(), ['@json-sync/client', '@json-sync/core', '@json-sync/server']);
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
  t.same([...new Set(tarballs.map((p) => p.version))], [version], "one version for all, the repository's");
  t.match(readFileSync(join(root, 'native', 'include', 'sync_client.h'), 'utf8'), `#define SYNC_CLIENT_VERSION "${version}"`, 'and the C SDK\'s');
  const sdkReadme = readFileSync(join(root, 'native', 'dist', 'README.md'), 'utf8');
  for (const p of tarballs) t.match(sdkReadme, p.filename.replace(version, '@VERSION@'), `the SDK's README names ${p.filename}`);
  for (const p of tarballs) {
    t.same(p.files.filter((f) => /\.test\.|test-support|\.ts$(?<!\.d\.ts)|tsconfig|\/src\/.*\.ts$/.test(f.path) && !f.path.endsWith('.d.ts')), [], `${p.name} ships no sources, tests or test support`);
  }
  t.ok(tarballs.find((p) => p.name === '@json-sync/client')!.files.some((f) => f.path === 'dist/cjs/index.cjs'), 'the client ships its CommonJS build');
  // The shared test fixture (test-support/) is a workspace of its own: never published, and no product package needs it to run.
  const manifest = (workspace: string) => JSON.parse(readFileSync(join(root, workspace, 'package.json'), 'utf8')) as { private?: boolean; dependencies?: Record<string, string> };
  t.equal(manifest('test-support').private, true, '@json-sync/test-support is private');
  for (const workspace of ['core', 'client-ts', 'server']) t.notOk('@json-sync/test-support' in (manifest(workspace).dependencies ?? {}), `${workspace} does not depend on it at run time`);

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs.map((p) => join(dir, p.filename)), 'typescript@5.9', '@types/node@18'], { cwd: app, ...big });

  const env = { ...process.env, DATABASE_URL: tdb.url, LOG_LEVEL: 'warn' };
  const bin = join(app, 'node_modules', '.bin', 'sync-server');
  const { apiKey, secret } = credentialsFrom((await run(bin, ['generate-credentials', '--name', 'installed'], { env })).stdout);
  const server = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    server.kill('SIGKILL');
  });
  let out = '';
  server.stdout.on('data', (d: Buffer) => (out += d));
  server.stderr.on('data', (d: Buffer) => (out += d));
  const deadline = Date.now() + 30_000;
  while (!/listening on (ws:\/\/\S+)/.test(out)) {
    if (server.exitCode !== null || Date.now() > deadline) throw new Error(`the installed sync-server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /listening on (ws:\/\/\S+)/.exec(out)![1]!;

  const options = (name: string) => JSON.stringify({ databasePath: join(app, `${name}.db`), serverUrl: url, email: 'installed@example.com', apiKey, apiSecret: secret });
  writeFileSync(
    join(app, 'writer.mjs'),
    `import { SyncEngine } from '@json-sync/client';
const engine = SyncEngine.open(${options('esm')});
const id = engine.createDocument({ title: 'from ESM' });
await engine.whenSynced(20000);
console.log(id, engine.getDocument(id).syncRevision);
await engine.close();
`,
  );
  const written = (await run('node', ['writer.mjs'], { cwd: app })).stdout.trim().split(' ');
  t.equal(written[1], '1', 'ESM: created and synced');

  writeFileSync(
    join(app, 'reader.cjs'),
    `const { SyncEngine } = require('@json-sync/client');
const engine = SyncEngine.open(${options('cjs')});
engine.whenSynced(20000).then(async () => {
  console.log(JSON.stringify(engine.getDocument(${JSON.stringify(written[0])})));
  await engine.close();
});
`,
  );
  const read = JSON.parse((await run('node', ['reader.cjs'], { cwd: app })).stdout) as { content: unknown };
  t.same(read.content, { title: 'from ESM' }, 'CommonJS: the document synced to another engine');

  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, types: ['node'] }, files: ['typed.ts'] }),
  );
  writeFileSync(
    join(app, 'typed.ts'),
    `import { EventType, SyncEngine, SyncError, type DocumentSnapshot, type EngineOptions, type SyncEvent } from '@json-sync/client';
import { parseClientMessage, type ClientMessage } from '@json-sync/core';
interface Task { title: string; done: boolean; [key: string]: string | boolean }
const options: EngineOptions = { databasePath: 't.db', serverUrl: 'ws://localhost:8080/ws', email: 'a@example.com', apiKey: 'rpa_x', apiSecret: 'rps_x' };
const engine: SyncEngine = SyncEngine.open(options);
const id: string = engine.createDocument<Task>({ title: 'typed', done: false });
const doc: DocumentSnapshot<Task> | null = engine.getDocument<Task>(id);
const done: boolean | undefined = doc?.content.done;
engine.onEvent((e: SyncEvent) => { if (e.type === EventType.DocumentCreated) console.log(e.documentId); });
const parsed = parseClientMessage({ type: 'ping' });
const message: ClientMessage | undefined = parsed.ok ? parsed.message : undefined;
try { engine.deleteDocument('nope'); } catch (err) { if (err instanceof SyncError) console.log(err.code, done, message); }
`,
  );
  await t.resolves(run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: app }), 'a strict TypeScript program type-checks against the public types');
});
