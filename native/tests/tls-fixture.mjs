// ctest wrapper for c_api_tls: `node tls-fixture.mjs PROGRAM` starts the real sync server over TLS
// through the shared test fixture (a fresh database, credentials, and a certificate for localhost
// and 127.0.0.1 signed by a throwaway CA), and runs PROGRAM with TLS_SERVER_URL, TLS_API_KEY,
// TLS_API_SECRET, TLS_CA_FILE (the CA that signed the server), TLS_OTHER_CA_FILE (one that signed
// nothing) — and NODE_EXTRA_CA_CERTS naming the signing CA too, which the embedded runtime must not
// read. Passes when PROGRAM passes and the server knows exactly the users of the trusted engines
// (emails starting "trusted"): no untrusted engine ever authenticated.
import { spawn } from 'node:child_process';
import { startTestServer } from '@json-sync/test-support';

const ts = await startTestServer({ prefix: 'sync_native_tls', appName: 'native tls', tls: true });
let failed = false;
try {
  const code = await new Promise((resolve) => {
    const child = spawn(process.argv[2], [], {
      stdio: 'inherit',
      env: {
        ...process.env,
        TLS_SERVER_URL: ts.url,
        TLS_API_KEY: ts.apiKey,
        TLS_API_SECRET: ts.secret,
        TLS_CA_FILE: ts.tls.caFile,
        TLS_OTHER_CA_FILE: ts.tls.otherCaFile,
        NODE_EXTRA_CA_CERTS: ts.tls.caFile,
      },
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  const users = (await ts.tdb.db.query('SELECT email FROM users ORDER BY email')).rows.map((r) => r.email);
  console.log(`tls-fixture: users the server knows: ${JSON.stringify(users)}`);
  const untrusted = users.filter((email) => !email.startsWith('trusted'));
  if (untrusted.length > 0) console.error(`tls-fixture: an engine that must not trust this server authenticated: ${untrusted.join(', ')}`);
  if (!users.some((email) => email.startsWith('trusted'))) console.error('tls-fixture: no trusted engine reached the server');
  failed = code !== 0 || untrusted.length > 0 || !users.some((email) => email.startsWith('trusted'));
} finally {
  await ts.teardown();
}
process.exit(failed ? 1 : 0);
