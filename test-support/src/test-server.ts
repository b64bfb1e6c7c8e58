import { createTestDatabase, type TestCredentials, type TestDatabase } from './database.js';
import { startServer, type ServerProcess, type StartOptions } from './server-process.js';
import { makeTestCertificates, type TestCertificates } from './tls.js';

export interface TestServerOptions extends Pick<StartOptions, 'args' | 'env' | 'nodeArgs' | 'detachedLog' | 'timeoutMs'> {
  /** Prefix of the database's name, so a leftover one says which suite made it. */
  prefix?: string;
  /** Name of the application the credentials belong to. */
  appName?: string;
  /**
   * The PostgreSQL server to create the database in, as a connection string to one of its existing
   * databases (default `TEST_DATABASE_URL`): the fault suite points it at a private cluster it can stop.
   */
  databaseServerUrl?: string;
  /** The connection string the server process uses, made from the database's (e.g. to go through a proxy). */
  serverDatabaseUrl?: (url: string) => string;
  /**
   * Serve over TLS (`--tls-cert`/`--tls-key`) with a certificate for localhost and 127.0.0.1 signed by
   * a throwaway CA made for this server: `url` is then wss://, `httpUrl` https://, and `tls` holds
   * the CA to trust (and another CA, to be refused with).
   */
  tls?: boolean;
}

export interface TestServer {
  tdb: TestDatabase;
  /** The application the key pair belongs to. */
  applicationId: string;
  apiKey: string;
  secret: string;
  /** The running process; replaced by `restart()`. */
  readonly server: ServerProcess;
  readonly url: string;
  readonly httpUrl: string;
  /** With `tls: true`: the certificates' files (removed by `teardown()`; a detached server's caller removes `tls.dir`). */
  tls: TestCertificates | undefined;
  /** Stops the process (SIGTERM by default, SIGKILL for a crash) and starts a new one on the same port. */
  restart(signal?: NodeJS.Signals): Promise<ServerProcess>;
  /**
   * Another server process on the same database and a port of its own, started with this server's
   * options except those given; stopped by `teardown()`.
   */
  startAnother(opts?: Pick<StartOptions, 'args' | 'env'>): Promise<ServerProcess>;
  /** Stops the server (and every other one it started) and drops the database, even when a server already died. */
  teardown(): Promise<void>;
}

/**
 * The one "fresh database + real server process" fixture: a migrated PostgreSQL database of its
 * own, API credentials, and `sync-server serve` on a random loopback port. Server, client, native,
 * bench and fault harnesses all start their servers through it.
 */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const tdb = await createTestDatabase(opts.prefix, { serverUrl: opts.databaseServerUrl });
  const tls = opts.tls ? makeTestCertificates() : undefined;
  const tlsArgs = tls ? ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile] : [];
  const start = (o: Pick<StartOptions, 'args' | 'env' | 'port' | 'detachedLog'>) =>
    startServer({
      databaseUrl: opts.serverDatabaseUrl ? opts.serverDatabaseUrl(tdb.url) : tdb.url,
      ...o,
      args: [...(o.args ?? []), ...tlsArgs],
      ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
  const own = { args: opts.args, env: opts.env, ...(opts.detachedLog ? { detachedLog: opts.detachedLog } : {}) };
  const others: ServerProcess[] = [];
  let server: ServerProcess;
  let creds: TestCredentials;
  try {
    creds = await tdb.credentials(opts.appName);
    server = await start(own);
  } catch (err) {
    await tdb.drop();
    tls?.remove();
    throw err;
  }
  return {
    tdb,
    applicationId: creds.applicationId,
    apiKey: creds.apiKey,
    secret: creds.secret,
    get server() {
      return server;
    },
    get url() {
      return server.url;
    },
    get httpUrl() {
      return server.httpUrl;
    },
    tls,
    async restart(signal: NodeJS.Signals = 'SIGTERM') {
      await server.stop(signal);
      server = await start({ ...own, port: server.port });
      return server;
    },
    async startAnother(o = {}) {
      const p = await start({ args: o.args ?? opts.args, env: o.env ?? opts.env });
      others.push(p);
      return p;
    },
    async teardown() {
      await Promise.all([server, ...others].map((p) => p.stop().catch(() => {})));
      await tdb.drop();
      tls?.remove();
    },
  };
}
