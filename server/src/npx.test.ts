import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// "Run `npx sync-server …` after `npm run build`": from a fresh clone, npx must find the project's
// own command, never a package of that name on the registry (npm runs offline here to be sure).
const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

t.test('npx sync-server runs the project\'s server from a fresh clone after npm install && npm run build', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'json-sync-clone-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clone = join(dir, 'repo');
  await run('git', ['clone', '--quiet', '--depth', '1', `file://${root}`, clone]);
  // Install scripts only build native addons the command does not need; the registry is not asked.
  const env = { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' };
  await run('npm', ['install', '--ignore-scripts'], { cwd: clone, env, maxBuffer: 16 * 1024 * 1024 });
  await run('npm', ['run', 'build'], { cwd: clone, env, maxBuffer: 16 * 1024 * 1024 });
  const help = await run('npx', ['sync-server', '--help'], { cwd: clone, env });
  t.match(help.stdout, /^Usage: sync-server <command> \[options\]/, 'the project\'s usage');
  t.match(help.stdout, /generate-credentials/);
  const bad = await run('npx', ['sync-server', 'bogus'], { cwd: clone, env }).catch((err: { code: number; stderr: string }) => err);
  t.match(bad, { code: 2, stderr: /unknown command "bogus"/ }, 'and its exit code 2 for a wrong command line');
});
