// ctest fixture: `start ENVFILE` creates a test database, API credentials and a real server on a
// random loopback port (the shared test fixture, detached so it outlives this process), and writes
// them to ENVFILE for the C/C++ tests; `stop ENVFILE` undoes it.
import { rmSync, writeFileSync } from 'node:fs';
import { CLI, dropTestDatabase, startTestServer, stopDetached } from '@json-sync/test-support';
import { readFixtureEnv } from './fixture-env.mjs';
const [command, envFile] = process.argv.slice(2);

if (command === 'start') {
  const ts = await startTestServer({ prefix: 'sync_native_test', appName: 'native tests', detachedLog: `${envFile}.log` });
  await ts.tdb.db.close();
  writeFileSync(
    envFile,
    [
      `SERVER_URL=${ts.url}`,
      `API_KEY=${ts.apiKey}`,
      `API_SECRET=${ts.secret}`,
      `DATABASE_URL=${ts.tdb.url}`,
      `DATABASE_NAME=${ts.tdb.name}`,
      `SERVER_PID=${ts.server.child.pid}`,
      `SERVER_PORT=${ts.server.port}`,
      `CLI=${CLI}`,
      '',
    ].join('\n'),
  );
  console.log(`server on port ${ts.server.port}, database ${ts.tdb.name}`);
} else if (command === 'stop') {
  const env = readFixtureEnv(envFile);
  await stopDetached(Number(env.SERVER_PID));
  await dropTestDatabase(env.DATABASE_NAME);
  rmSync(envFile, { force: true });
} else {
  console.error('usage: server-fixture.mjs start|stop ENVFILE');
  process.exit(2);
}
