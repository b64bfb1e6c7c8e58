#!/usr/bin/env node
import { resolve } from 'node:path';
import { COMMANDS, intSetting, parseCommandLine, settingsOf, usage, UsageError, type ParsedCommandLine } from './cli-options.js';
import { createLogger } from './logger.js';
import { openDatabase } from './db/open.js';
import { migrate } from './db/migrations.js';
import type { Database } from './db/database.js';
import { countCredentials, generateCredentials, listCredentials, MAX_CREDENTIAL_NAME, revokeCredentials } from './store/credentials.js';
import { pruneLog } from './changes.js';
import { attachmentStoreSetting, serveConfig } from './serve-config.js';
import { collectAttachments } from './attachments/collect.js';
import { openBlobStore } from './attachments/open-blob-store.js';
import { SyncServer } from './server.js';

async function withDatabase<T>(parsed: ParsedCommandLine, fn: (db: Database) => Promise<T>): Promise<T> {
  const log = createLogger(process.env.LOG_LEVEL || 'warn');
  const dataDir = resolve(settingsOf(parsed)('data-dir')!.value);
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

async function serve(parsed: ParsedCommandLine): Promise<void> {
  const config = serveConfig(settingsOf(parsed));
  process.stdout.write(`${config.describe().join('\n')}\n`);
  const log = createLogger(config.logLevel);
  const { host, databaseUrl, dataDir, tls } = config;
  const db = await openDatabase({ databaseUrl, dataDir }, log);
  let server: SyncServer | undefined;
  let bound: number;
  try {
    await migrate(db);
    if (!databaseUrl && (await countCredentials(db)) === 0) {
      process.stdout.write('First start of this embedded database: generated credentials for an application named "default".\n');
      printCredentials(await generateCredentials(db, 'default'));
    }
    if (!SyncServer.nativeTransport()) log.warn('uWebSockets.js native binary not loaded: running on its slow JavaScript fallback');
    server = new SyncServer(db, log, {
      host,
      port: config.port,
      ...(config.healthPort !== undefined ? { healthPort: config.healthPort } : {}),
      authFailureLimit: { maxFailures: config.authFailureLimit, windowMs: 60_000 },
      maxOutboundBytes: config.maxOutboundBytes,
      authTimeoutMs: config.authTimeoutMs,
      queryTimeoutMs: config.queryTimeoutMs,
      limits: { max_attachment_bytes: config.maxAttachmentBytes, attachment_quota_bytes: config.attachmentQuotaBytes },
      attachmentStore: config.attachmentStore,
      ...(config.attachmentGcIntervalSeconds > 0
        ? {
            attachmentGc: {
              intervalMs: config.attachmentGcIntervalSeconds * 1000,
              graceMs: config.attachmentGraceHours * HOUR_MS,
              uploadExpiryMs: config.uploadExpiryHours * HOUR_MS,
            },
          }
        : {}),
      ...(tls ? { tls } : {}),
    });
    bound = await server.start();
  } catch (err) {
    // Nothing may keep the process alive after a failed start: the pool and LISTEN connection go too.
    await server?.stop().catch(() => {});
    await db.close().catch(() => {});
    throw err;
  }
  const scheme = tls ? 'wss' : 'ws';
  // Before the listening line, which those who start the server wait for.
  if (server.healthPort !== undefined) process.stdout.write(`health checks on http://${host}:${server.healthPort}/health\n`);
  process.stdout.write(`sync-server listening on ${scheme}://${host}:${bound}/ws (database: ${databaseUrl ? 'PostgreSQL' : `embedded, ${dataDir}`})\n`);
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

const HOUR_MS = 3_600_000;

async function gcAttachments(parsed: ParsedCommandLine): Promise<void> {
  const setting = settingsOf(parsed);
  const graceMs = intSetting('grace-hours', setting('grace-hours'), 0, 100_000) * HOUR_MS;
  const uploadExpiryMs = intSetting('upload-expiry-hours', setting('upload-expiry-hours'), 0, 100_000) * HOUR_MS;
  const storeSpec = attachmentStoreSetting(setting('attachment-store')!);
  const c = await withDatabase(parsed, (db) => collectAttachments(db, openBlobStore(storeSpec, db), { graceMs, uploadExpiryMs }));
  const out = process.stdout;
  for (const u of c.uploads) out.write(`dropped unfinished upload: user ${u.user_id} ${u.attachment} (${u.received} bytes stored)\n`);
  for (const o of c.owners) out.write(`released: user ${o.user_id} ${o.attachment}\n`);
  for (const a of c.attachments) out.write(`deleted: ${a.id} (${a.length} bytes)\n`);
  const bytes = c.attachments.reduce((sum, a) => sum + a.length, 0);
  out.write(`Collected ${c.attachments.length} attachments (${bytes} bytes), ${c.owners.length} owner claims, ${c.uploads.length} unfinished uploads.\n`);
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  const { command, flags, args } = parsed;
  if (command === 'help') {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (flags.help) {
    process.stdout.write(`${usage(command)}\n`);
    return 0;
  }
  switch (command) {
    case 'serve':
      await serve(parsed);
      return -1;
    case 'generate-credentials': {
      const name = flags.name;
      if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_CREDENTIAL_NAME) {
        throw new UsageError(`--name is required (1 to ${MAX_CREDENTIAL_NAME} characters)`);
      }
      const created = await withDatabase(parsed, (db) => generateCredentials(db, name.trim()));
      printCredentials(created);
      return 0;
    }
    case 'list-credentials': {
      const rows = await withDatabase(parsed, listCredentials);
      if (rows.length === 0) process.stdout.write('No credentials.\n');
      for (const r of rows) {
        const lastUsed = r.last_used_at ? r.last_used_at.toISOString() : 'never';
        process.stdout.write(`${r.api_key}  ${r.active ? 'active ' : 'revoked'}  ${r.name}  created ${r.created_at.toISOString()}  last used ${lastUsed}\n`);
      }
      return 0;
    }
    case 'revoke-credentials': {
      const key = args[0]!;
      const found = await withDatabase(parsed, (db) => revokeCredentials(db, key));
      if (!found) {
        process.stderr.write(`sync-server: no such API key: ${key}\n`);
        return 1;
      }
      process.stdout.write(`Revoked ${key}. Its open sessions close within 5 seconds.\n`);
      return 0;
    }
    case 'migrate': {
      await withDatabase(parsed, async () => {});
      process.stdout.write('Database schema is up to date.\n');
      return 0;
    }
    case 'gc-attachments':
      await gcAttachments(parsed);
      return 0;
    case 'prune-log': {
      const days = intSetting('older-than-days', settingsOf(parsed)('older-than-days'), 0, 100_000);
      const removed = await withDatabase(parsed, (db) => pruneLog(db, days));
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
      const known = command && COMMANDS[command] ? command : undefined;
      const help = err.showUsage ? `\n${usage(known)}` : `See \`sync-server ${known ? `${known} ` : ''}--help\`.`;
      process.stderr.write(`sync-server: ${err.message}\n${help}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`sync-server: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  },
);
