#!/usr/bin/env node
import { resolve } from 'node:path';
import { createLogger } from './logger.js';
import { openDatabase } from './db/open.js';
import { DataDirLockedError } from './db/pglite.js';
import { migrate } from './db/migrations.js';
import type { Database } from './db/database.js';
import { countCredentials, generateCredentials, listCredentials, MAX_CREDENTIAL_NAME, revokeCredentials } from './store/credentials.js';
import { pruneLog } from './changes.js';
import { DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_MAX_OUTBOUND_BYTES, SyncServer } from './server.js';

/** A wrong command line: usage on stderr, exit 2. */
class UsageError extends Error {}

interface FlagSpec {
  [flag: string]: { value: boolean; help: string };
}

const COMMON: FlagSpec = {
  '--data-dir': { value: true, help: 'embedded database directory when DATABASE_URL is not set (default ./data)' },
  '--help': { value: false, help: 'show this help' },
};

const COMMANDS: Record<string, { summary: string; args?: string; flags: FlagSpec }> = {
  serve: {
    summary: 'run the sync server',
    flags: {
      '--host': { value: true, help: 'address to listen on (default 0.0.0.0)' },
      '--port': { value: true, help: 'port to listen on; 0 picks a free one (default 8080)' },
      '--auth-failure-limit': { value: true, help: 'failed authentications per address per minute before rate_limited (default 20)' },
      '--auth-timeout-seconds': { value: true, help: 'seconds a new connection has to authenticate before it is closed (default 10)' },
      '--max-outbound-mb': { value: true, help: 'MiB all connections may hold queued for clients that do not read; past it the slowest are closed (default 256)' },
      ...COMMON,
    },
  },
  'generate-credentials': {
    summary: 'create an application with a new API key and secret (printed once)',
    flags: { '--name': { value: true, help: 'name of the application (required)' }, ...COMMON },
  },
  'list-credentials': { summary: 'list API keys (never secrets)', flags: COMMON },
  'revoke-credentials': { summary: 'revoke an API key; its open sessions close within 5 s', args: 'KEY', flags: COMMON },
  migrate: { summary: 'apply database migrations and exit', flags: COMMON },
  'prune-log': {
    summary: 'delete change-log entries older than N days (clients behind them must full-sync)',
    flags: { '--older-than-days': { value: true, help: 'age in days (required)' }, ...COMMON },
  },
};

function usage(command?: string): string {
  const env = 'Environment: DATABASE_URL (PostgreSQL connection string; without it the embedded database is used), LOG_LEVEL.';
  if (command && COMMANDS[command]) {
    const c = COMMANDS[command];
    const flags = Object.entries(c.flags).map(([f, s]) => `  ${(f + (s.value ? ' VALUE' : '')).padEnd(28)} ${s.help}`);
    return [`Usage: sync-server ${command}${c.args ? ` ${c.args}` : ''} [options]`, '', c.summary, '', 'Options:', ...flags, '', env].join('\n');
  }
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(22)} ${c.summary}`);
  return ['Usage: sync-server <command> [options]', '', 'Commands:', ...lines, '', 'Run `sync-server <command> --help` for its options.', env].join('\n');
}

function parse(argv: string[]): { command: string; flags: Map<string, string | true>; args: string[] } {
  const [command, ...rest] = argv;
  if (!command) throw new UsageError('no command given');
  if (command === '--help' || command === 'help') return { command: 'help', flags: new Map(), args: [] };
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command "${command}"`);
  const flags = new Map<string, string | true>();
  const args: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!;
    if (!token.startsWith('--')) {
      args.push(token);
      continue;
    }
    const [name, inline] = token.includes('=') ? [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)] : [token, undefined];
    const flag = spec.flags[name];
    if (!flag) throw new UsageError(`unknown option ${name} for ${command}`);
    if (flags.has(name)) throw new UsageError(`option ${name} given twice`);
    if (!flag.value) {
      if (inline !== undefined) throw new UsageError(`option ${name} takes no value`);
      flags.set(name, true);
      continue;
    }
    const value = inline ?? rest[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`option ${name} needs a value`);
    flags.set(name, value);
  }
  if (flags.has('--help')) return { command, flags, args };
  const expected = spec.args ? 1 : 0;
  if (args.length !== expected) throw new UsageError(expected ? `${command} takes exactly one ${spec.args}` : `unexpected argument "${args[0]}"`);
  return { command, flags, args };
}

function intFlag(flags: Map<string, string | true>, name: string, fallback: number | undefined, min: number, max: number): number {
  const raw = flags.get(name);
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`${name} is required`);
    return fallback;
  }
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

async function withDatabase<T>(flags: Map<string, string | true>, fn: (db: Database) => Promise<T>): Promise<T> {
  const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const dataDir = resolve(String(flags.get('--data-dir') ?? './data'));
  const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir }, log);
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

function printCredentials(c: { apiKey: string; secret: string; name: string }): void {
  process.stdout.write(`Application: ${c.name}\nAPI Key: ${c.apiKey}\nSecret: ${c.secret}\n`);
  process.stdout.write('Store the secret now: it is not shown again.\n');
}

async function serve(flags: Map<string, string | true>): Promise<void> {
  const log = createLogger();
  const host = String(flags.get('--host') ?? '0.0.0.0');
  const port = intFlag(flags, '--port', 8080, 0, 65535);
  const maxFailures = intFlag(flags, '--auth-failure-limit', 20, 1, 1_000_000);
  const authTimeoutMs = intFlag(flags, '--auth-timeout-seconds', DEFAULT_AUTH_TIMEOUT_MS / 1000, 1, 3600) * 1000;
  const maxOutboundBytes = intFlag(flags, '--max-outbound-mb', DEFAULT_MAX_OUTBOUND_BYTES / 2 ** 20, 1, 1_000_000) * 2 ** 20;
  const dataDir = resolve(String(flags.get('--data-dir') ?? './data'));
  const databaseUrl = process.env.DATABASE_URL;
  const db = await openDatabase({ databaseUrl, dataDir }, log);
  await migrate(db);
  if (!databaseUrl && (await countCredentials(db)) === 0) {
    process.stdout.write('First start of this embedded database: generated credentials for an application named "default".\n');
    printCredentials(await generateCredentials(db, 'default'));
  }
  if (!SyncServer.nativeTransport()) log.warn('uWebSockets.js native binary not loaded: running on its slow JavaScript fallback');
  const server = new SyncServer(db, log, { host, port, authFailureLimit: { maxFailures, windowMs: 60_000 }, maxOutboundBytes, authTimeoutMs });
  let bound: number;
  try {
    bound = await server.start();
  } catch (err) {
    // Nothing may keep the process alive after a failed start: the pool and LISTEN connection go too.
    await server.stop().catch(() => {});
    await db.close().catch(() => {});
    throw err;
  }
  process.stdout.write(`sync-server listening on ws://${host}:${bound}/ws (database: ${databaseUrl ? 'PostgreSQL' : `embedded, ${dataDir}`})\n`);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const hardStop = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 4900);
    hardStop.unref();
    void server
      .stop()
      .then(() => db.close())
      .then(() => process.exit(0), (err) => {
        log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function main(argv: string[]): Promise<number> {
  const { command, flags, args } = parse(argv);
  if (command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (flags.has('--help')) {
    process.stdout.write(`${usage(command)}\n`);
    return 0;
  }
  switch (command) {
    case 'serve':
      await serve(flags);
      return -1;
    case 'generate-credentials': {
      const name = flags.get('--name');
      if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_CREDENTIAL_NAME) {
        throw new UsageError(`--name is required (1 to ${MAX_CREDENTIAL_NAME} characters)`);
      }
      const created = await withDatabase(flags, (db) => generateCredentials(db, name.trim()));
      printCredentials(created);
      return 0;
    }
    case 'list-credentials': {
      const rows = await withDatabase(flags, listCredentials);
      if (rows.length === 0) process.stdout.write('No credentials.\n');
      for (const r of rows) {
        const lastUsed = r.last_used_at ? r.last_used_at.toISOString() : 'never';
        process.stdout.write(`${r.api_key}  ${r.active ? 'active ' : 'revoked'}  ${r.name}  created ${r.created_at.toISOString()}  last used ${lastUsed}\n`);
      }
      return 0;
    }
    case 'revoke-credentials': {
      const key = args[0]!;
      const found = await withDatabase(flags, (db) => revokeCredentials(db, key));
      if (!found) {
        process.stderr.write(`sync-server: no such API key: ${key}\n`);
        return 1;
      }
      process.stdout.write(`Revoked ${key}. Its open sessions close within 5 seconds.\n`);
      return 0;
    }
    case 'migrate': {
      await withDatabase(flags, async () => {});
      process.stdout.write('Database schema is up to date.\n');
      return 0;
    }
    case 'prune-log': {
      const days = intFlag(flags, '--older-than-days', undefined, 0, 100_000);
      const removed = await withDatabase(flags, (db) => pruneLog(db, days));
      process.stdout.write(`Removed ${removed} change-log entries.\n`);
      return 0;
    }
  }
  throw new UsageError(`unknown command "${command}"`);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      const command = process.argv[2];
      process.stderr.write(`sync-server: ${err.message}\n\n${usage(command && COMMANDS[command] ? command : undefined)}\n`);
      process.exitCode = 2;
    } else if (err instanceof DataDirLockedError) {
      process.stderr.write(`sync-server: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`sync-server: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  },
);
