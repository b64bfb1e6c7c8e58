import { resolve } from 'node:path';
import { intSetting, LOG_LEVELS, settingError, UsageError, type Setting } from './cli-options.js';
import { checkTlsFiles, type TlsFiles } from './tls-files.js';
import { SERVER_VERSION } from './version.js';

export interface ServeConfig {
  host: string;
  port: number;
  /** The health-check port (health-listener.ts), when one was asked for. */
  healthPort: number | undefined;
  /** PostgreSQL's connection string; without it, the embedded database in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  tls: TlsFiles | undefined;
  authFailureLimit: number;
  authTimeoutMs: number;
  maxOutboundBytes: number;
  queryTimeoutMs: number;
  logLevel: string;
  maxAttachmentBytes: number;
  attachmentQuotaBytes: number;
  attachmentStore: string;
  /** Seconds between collections; 0: none. */
  attachmentGcIntervalSeconds: number;
  attachmentGraceHours: number;
  uploadExpiryHours: number;
  /** One line per setting with its value and where it came from; no secret is in them. */
  describe(): string[];
}

/**
 * `serve`'s settings from flags, environment and defaults: wrong values are a UsageError (exit 2),
 * certificate or key files the server cannot use an Error naming the file (exit 1). All of it is checked
 * before the database is opened or a port taken.
 */
export function serveConfig(setting: (name: string) => Setting | undefined, env: NodeJS.ProcessEnv = process.env): ServeConfig {
  const s = (name: string) => setting(name)!;
  const port = intSetting('port', s('port'), 0, 65535);
  const healthSetting = setting('health-port');
  const healthPort = healthSetting ? intSetting('health-port', healthSetting, 0, 65535) : undefined;
  const authFailureLimit = intSetting('auth-failure-limit', s('auth-failure-limit'), 1, 1_000_000);
  const authTimeoutSeconds = intSetting('auth-timeout-seconds', s('auth-timeout-seconds'), 1, 3600);
  const maxOutboundMb = intSetting('max-outbound-mb', s('max-outbound-mb'), 1, 1_000_000);
  const queryTimeoutMs = intSetting('query-timeout-ms', s('query-timeout-ms'), 1, 3_600_000);
  const maxAttachmentBytes = intSetting('max-attachment-bytes', s('max-attachment-bytes'), 1, Number.MAX_SAFE_INTEGER);
  const attachmentQuotaBytes = intSetting('attachment-quota-bytes', s('attachment-quota-bytes'), 0, Number.MAX_SAFE_INTEGER);
  const attachmentStore = attachmentStoreSetting(s('attachment-store'));
  const attachmentGcIntervalSeconds = intSetting('attachment-gc-interval-seconds', s('attachment-gc-interval-seconds'), 0, 30 * 86_400);
  const attachmentGraceHours = intSetting('attachment-grace-hours', s('attachment-grace-hours'), 0, 100_000);
  const uploadExpiryHours = intSetting('upload-expiry-hours', s('upload-expiry-hours'), 0, 100_000);
  const logLevel = s('log-level');
  if (!LOG_LEVELS.includes(logLevel.value)) throw settingError(logLevel, `must be one of ${LOG_LEVELS.join(', ')}`);
  const [cert, key] = [setting('tls-cert'), setting('tls-key')];
  if (!cert !== !key) {
    const given = (cert ?? key)!;
    throw new UsageError(`${given.from} needs ${cert ? '--tls-key (or SYNC_TLS_KEY)' : '--tls-cert (or SYNC_TLS_CERT)'} too`, given.from.startsWith('--'));
  }
  const tls = cert && key ? checkTlsFiles(cert.value, key.value) : undefined;
  const databaseUrl = env.DATABASE_URL || undefined;
  const dataDir = resolve(s('data-dir').value);
  const host = s('host').value;

  const rows: [name: string, value: string, from: string][] = [
    ['host', host, s('host').from],
    ['port', String(port), s('port').from],
    healthSetting ? ['health-port', String(healthPort), healthSetting.from] : ['health-port', 'none: /health on the main port only (HTTP/1.1 with Host)', 'default'],
    databaseUrl ? ['database', maskDatabaseUrl(databaseUrl), 'DATABASE_URL'] : ['database', `embedded, ${dataDir}`, s('data-dir').from],
  ];
  if (tls) {
    rows.push(['tls-cert', `${tls.certFile} (${tls.subject}, valid until ${tls.validTo.toISOString()})`, cert!.from], ['tls-key', tls.keyFile, key!.from]);
  } else rows.push(['tls', 'off: ws:// and http:// only', 'default']);
  rows.push(
    ['auth-failure-limit', `${authFailureLimit} per address per minute`, s('auth-failure-limit').from],
    ['auth-timeout-seconds', String(authTimeoutSeconds), s('auth-timeout-seconds').from],
    ['max-outbound-mb', String(maxOutboundMb), s('max-outbound-mb').from],
    ['query-timeout-ms', String(queryTimeoutMs), s('query-timeout-ms').from],
    ['log-level', logLevel.value, logLevel.from],
    ['max-attachment-bytes', String(maxAttachmentBytes), s('max-attachment-bytes').from],
    ['attachment-quota-bytes', attachmentQuotaBytes === 0 ? 'none' : String(attachmentQuotaBytes), s('attachment-quota-bytes').from],
    ['attachment-store', attachmentStore === 'postgres' ? 'postgres (the database)' : `directory ${attachmentStore}`, s('attachment-store').from],
    [
      'attachment-gc',
      attachmentGcIntervalSeconds === 0
        ? 'off (run gc-attachments)'
        : `every ${attachmentGcIntervalSeconds} s, grace ${attachmentGraceHours} h, unfinished uploads kept ${uploadExpiryHours} h`,
      s('attachment-gc-interval-seconds').from,
    ],
  );
  return {
    host,
    port,
    healthPort,
    databaseUrl,
    dataDir,
    tls,
    authFailureLimit,
    authTimeoutMs: authTimeoutSeconds * 1000,
    maxOutboundBytes: maxOutboundMb * 2 ** 20,
    queryTimeoutMs,
    logLevel: logLevel.value,
    maxAttachmentBytes,
    attachmentQuotaBytes,
    attachmentStore,
    attachmentGcIntervalSeconds,
    attachmentGraceHours,
    uploadExpiryHours,
    describe: () => [`sync-server ${SERVER_VERSION}, configuration:`, ...rows.map(([name, value, from]) => `  ${name.padEnd(21)} ${value}  [${from}]`)],
  };
}

/** `postgres`, or a directory (made absolute: the server may change its working directory's meaning for nobody). */
export function attachmentStoreSetting(s: Setting): string {
  if (s.value === 'postgres') return 'postgres';
  if (s.value.trim() === '') throw settingError(s, 'must be postgres or a directory');
  return resolve(s.value);
}

/**
 * The connection string as it may be printed: its password (in the URL or as a `password`
 * parameter) replaced by ***. A string that is not a URL (libpq's `key=value` form) may hold a
 * password anywhere, so it is not shown at all.
 */
export function maskDatabaseUrl(url: string): string {
  // libpq's host list (h1:5432,h2:5432) is no URL to WHATWG: masked as one URL with a single host.
  const hostList = /^(postgres(?:ql)?:\/\/(?:[^/?#]*@)?)([^/?#@]*,[^/?#@]*)(.*)$/s.exec(url);
  if (hostList) return maskDatabaseUrl(`${hostList[1]}HOSTS${hostList[3]}`).replace('HOSTS', hostList[2]!);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(set, not shown: not a URL)';
  }
  if (u.password) u.password = '***';
  for (const name of [...u.searchParams.keys()]) if (/pass|secret|key/i.test(name)) u.searchParams.set(name, '***');
  return u.toString();
}
