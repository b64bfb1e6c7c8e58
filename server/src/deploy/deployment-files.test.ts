import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runCli } from '@json-sync/test-support';

// The deployment files against what the server reads: a variable set for sync-server that
// `sync-server serve` does not read is a setting silently ignored.
const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8')) as { services: Record<string, { image?: string; build?: unknown; environment?: Record<string, string> }> };
const dockerfile = readFileSync(root('Dockerfile'), 'utf8');
const haproxyCfg = readFileSync(root('deploy/haproxy.cfg'), 'utf8');

/** The variables `serve` reads: DATABASE_URL and every one its --help names. */
async function serveVariables(): Promise<Set<string>> {
  const help = await runCli(['serve', '--help'], { databaseUrl: null });
  return new Set(['DATABASE_URL', ...[...help.stdout.matchAll(/env ([A-Z_]+)/g)].map((m) => m[1]!)]);
}

t.test('every variable the compose file sets for sync-server is one `sync-server serve` reads', async (t) => {
  const known = await serveVariables();
  const servers = Object.entries(compose.services).filter(([, s]) => s.build !== undefined || s.image === 'json-sync/server:latest');
  t.same(
    servers.map(([name]) => name),
    ['sync-1', 'sync-2'],
    'two sync-server services',
  );
  for (const [name, s] of servers) {
    const vars = Object.keys(s.environment ?? {});
    t.ok(vars.includes('DATABASE_URL'), `${name} gets DATABASE_URL`);
    t.same(
      vars.filter((v) => !known.has(v)),
      [],
      `${name}: ${vars.join(', ')} are all read by serve`,
    );
  }
});

t.test("the Dockerfile's settings are variables serve reads, and its health check asks the health port", async (t) => {
  const known = await serveVariables();
  // ENV a=b \ c=d …: the names assigned, besides PATH and NODE_ENV (Node's, not ours).
  const env = [...dockerfile.matchAll(/^ENV ((?:.*\\\n)*.*)$/gm)].flatMap((m) => [...m[1]!.matchAll(/([A-Z_]+)=/g)].map((x) => x[1]!));
  const ours = env.filter((v) => v !== 'PATH' && v !== 'NODE_ENV');
  t.ok(ours.length >= 4, `the image sets ${ours.join(', ')}`);
  t.same(
    ours.filter((v) => !known.has(v)),
    [],
    'each of them is read by serve',
  );
  t.match(dockerfile, /^HEALTHCHECK .*\n.*SYNC_HEALTH_PORT.*\/health/m, 'HEALTHCHECK asks /health on SYNC_HEALTH_PORT');
  t.match(dockerfile, /^USER sync-server$/m, 'runs as a user of its own');
  t.match(dockerfile, /^ENTRYPOINT \["sync-server"\]\nCMD \["serve"\]$/m, 'the entry point is sync-server serve');
});

t.test('HAProxy gets from compose exactly the variables deploy/haproxy.cfg uses', async (t) => {
  const used = new Set([...haproxyCfg.matchAll(/"\$\{([A-Z0-9_]+)\}"/g)].map((m) => m[1]!));
  const given = new Set(Object.keys(compose.services.haproxy?.environment ?? {}));
  t.same([...given].sort(), [...used].sort());
  t.match(haproxyCfg, /^\s*option httpchk GET \/health$/m, "HAProxy's default check: HTTP/1.0, no Host");
  for (const n of [1, 2]) {
    t.equal(compose.services.haproxy!.environment![`SYNC_${n}_HEALTH_PORT`], compose.services[`sync-${n}`]!.environment!.SYNC_HEALTH_PORT, `sync-${n} is checked on its health port`);
  }
});
