import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEFAULT_LIMITS } from '@json-sync/core';
import { DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_MAX_OUTBOUND_BYTES, DEFAULT_QUERY_TIMEOUT_MS } from './server.js';

/** A wrong command line or setting: the message and exit 2 (with the usage when it was the command line). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = true,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  /** What the option's value is called in the help (FILE, N, …); absent for a switch. */
  value?: string;
  help: string;
  /** Environment variable read when the flag is not given. */
  env?: string;
  default?: string;
}

export interface CommandSpec {
  summary: string;
  /** The one positional argument the command takes, if any. */
  arg?: string;
  options: Record<string, OptionSpec>;
}

const COMMON: Record<string, OptionSpec> = {
  'data-dir': { value: 'DIR', env: 'SYNC_DATA_DIR', default: './data', help: 'embedded database directory, used when DATABASE_URL is not set' },
  help: { help: 'show this help' },
};

/** Where attachment bytes are kept, and the collection's periods: `serve` and `gc-attachments` read the same. */
const ATTACHMENT_STORE: OptionSpec = {
  value: 'postgres|DIR',
  env: 'SYNC_ATTACHMENT_STORE',
  default: 'postgres',
  help: "where attachment bytes are kept: the server's database, or files in this directory (one per blob, named by a server-made uuid)",
};
const UPLOAD_EXPIRY: OptionSpec = {
  value: 'N',
  env: 'SYNC_UPLOAD_EXPIRY_HOURS',
  default: '168',
  help: 'hours an unfinished upload may go untouched before collection drops it',
};
const GRACE_HELP = 'hours an uploaded attachment is kept even when nothing refers to it';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const COMMANDS: Record<string, CommandSpec> = {
  serve: {
    summary: 'run the sync server',
    options: {
      host: { value: 'ADDRESS', env: 'SYNC_HOST', default: '0.0.0.0', help: 'address to listen on' },
      port: { value: 'N', env: 'SYNC_PORT', default: '8080', help: 'port to listen on; 0 picks a free one' },
      'health-port': {
        value: 'N',
        env: 'SYNC_HEALTH_PORT',
        help: "also answer GET /health on this port for any HTTP version, with or without Host (load balancers' default checks); 0 picks a free one",
      },
      'tls-cert': { value: 'FILE', env: 'SYNC_TLS_CERT', help: 'PEM certificate (or chain) to serve wss:// and https:// with; needs --tls-key' },
      'tls-key': { value: 'FILE', env: 'SYNC_TLS_KEY', help: "the certificate's PEM private key (unencrypted)" },
      'auth-failure-limit': { value: 'N', env: 'SYNC_AUTH_FAILURE_LIMIT', default: '20', help: 'failed authentications per address per minute before rate_limited' },
      'auth-timeout-seconds': { value: 'N', env: 'SYNC_AUTH_TIMEOUT_SECONDS', default: String(DEFAULT_AUTH_TIMEOUT_MS / 1000), help: 'seconds a new connection has to authenticate before it is closed' },
      'max-outbound-mb': {
        value: 'N',
        env: 'SYNC_MAX_OUTBOUND_MB',
        default: String(DEFAULT_MAX_OUTBOUND_BYTES / 2 ** 20),
        help: 'MiB all connections may hold queued for clients that do not read; past it the slowest are closed',
      },
      'query-timeout-ms': {
        value: 'N',
        env: 'SYNC_QUERY_TIMEOUT_MS',
        default: String(DEFAULT_QUERY_TIMEOUT_MS),
        help: 'milliseconds a query_documents may run before it ends with query_timeout (PostgreSQL; not enforced on the embedded database)',
      },
      'log-level': { value: 'LEVEL', env: 'LOG_LEVEL', default: 'info', help: `how much the JSON log on stderr says: ${LOG_LEVELS.join(', ')}` },
      'max-attachment-bytes': {
        value: 'N',
        env: 'SYNC_MAX_ATTACHMENT_BYTES',
        default: String(DEFAULT_LIMITS.max_attachment_bytes),
        help: 'largest attachment accepted, in bytes (max_attachment_bytes)',
      },
      'attachment-quota-bytes': {
        value: 'N',
        env: 'SYNC_ATTACHMENT_QUOTA_BYTES',
        default: '0',
        help: "attachment bytes one user may hold, uploaded and in progress (attachment_quota_bytes); 0: no quota",
      },
      'attachment-store': ATTACHMENT_STORE,
      'attachment-gc-interval-seconds': {
        value: 'N',
        env: 'SYNC_ATTACHMENT_GC_INTERVAL_SECONDS',
        default: '3600',
        help: 'seconds between two attachment collections (what gc-attachments does); 0: never',
      },
      'attachment-grace-hours': { value: 'N', env: 'SYNC_ATTACHMENT_GRACE_HOURS', default: '24', help: GRACE_HELP },
      'upload-expiry-hours': UPLOAD_EXPIRY,
      ...COMMON,
    },
  },
  'generate-credentials': {
    summary: 'create an application with a new API key and secret (printed once)',
    options: { name: { value: 'NAME', help: 'name of the application (required)' }, ...COMMON },
  },
  'list-credentials': { summary: 'list API keys (never secrets)', options: COMMON },
  'revoke-credentials': { summary: 'revoke an API key; its open sessions close within 5 s', arg: 'KEY', options: COMMON },
  migrate: { summary: 'apply database migrations and exit', options: COMMON },
  'gc-attachments': {
    summary: 'delete attachments nothing refers to any more, and stale unfinished uploads; prints what went',
    options: {
      'grace-hours': { value: 'N', env: 'SYNC_ATTACHMENT_GRACE_HOURS', default: '24', help: GRACE_HELP },
      'upload-expiry-hours': UPLOAD_EXPIRY,
      'attachment-store': ATTACHMENT_STORE,
      ...COMMON,
    },
  },
  'prune-log': {
    summary: 'delete change-log entries older than N days (clients behind them must full-sync)',
    options: { 'older-than-days': { value: 'N', help: 'age in days (required)' }, ...COMMON },
  },
};

const DATABASE_ENV = 'Environment: DATABASE_URL is the PostgreSQL connection string (postgres://user:password@host/db); without it the embedded database is used.';

export function usage(command?: string): string {
  const c = command ? COMMANDS[command] : undefined;
  if (command && c) {
    const options = Object.entries(c.options).map(([name, o]) => {
      const flag = `--${name}${o.value ? ` ${o.value}` : ''}`;
      const notes = [o.env && `env ${o.env}`, o.default && `default ${o.default}`].filter(Boolean).join('; ');
      return `  ${flag.padEnd(28)} ${o.help}${notes ? ` (${notes})` : ''}`;
    });
    return [
      `Usage: sync-server ${command}${c.arg ? ` ${c.arg}` : ''} [options]`,
      '',
      c.summary,
      '',
      'Options (a flag wins over its environment variable; an empty variable counts as unset):',
      ...options,
      '',
      DATABASE_ENV,
    ].join('\n');
  }
  const lines = Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(22)} ${spec.summary}`);
  return ['Usage: sync-server <command> [options]', '', 'Commands:', ...lines, '', 'Run `sync-server <command> --help` for its options and environment variables.', DATABASE_ENV].join(
    '\n',
  );
}

export interface ParsedCommandLine {
  command: string;
  /** The flags given, by name without the dashes. */
  flags: Record<string, string | boolean | undefined>;
  args: string[];
}

/** Parses `sync-server <command> [options]` with Node's parseArgs; anything it refuses is a UsageError. */
export function parseCommandLine(argv: string[]): ParsedCommandLine {
  const [command, ...rest] = argv;
  if (!command) throw new UsageError('no command given');
  if (command === '--help' || command === '-h' || command === 'help') return { command: 'help', flags: {}, args: [] };
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command "${command}"`);
  const options = Object.fromEntries(
    Object.entries(spec.options).map(([name, o]) => [name, o.value ? { type: 'string' as const } : { type: 'boolean' as const, ...(name === 'help' ? { short: 'h' } : {}) }]),
  );
  const parsed = parseOptions(rest, options, command);
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option') continue;
    if (seen.has(token.name)) throw new UsageError(`option --${token.name} given twice`);
    seen.add(token.name);
  }
  const flags = parsed.values as ParsedCommandLine['flags'];
  if (flags.help) return { command, flags, args: parsed.positionals };
  const expected = spec.arg ? 1 : 0;
  if (parsed.positionals.length !== expected) {
    throw new UsageError(expected ? `${command} takes exactly one ${spec.arg}` : `unexpected argument "${parsed.positionals[0]}"`);
  }
  return { command, flags, args: parsed.positionals };
}

function parseOptions(args: string[], options: NonNullable<ParseArgsConfig['options']>, command: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true, tokens: true });
  } catch (err) {
    throw new UsageError(parseArgsMessage(err as Error & { code?: string }, command));
  }
}

/** parseArgs's own messages carry hints for its other uses (positionals after `--`); ours name the option and stop. */
function parseArgsMessage(err: Error & { code?: string }, command: string): string {
  const option = /'(-[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option} for ${command}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return option && /argument missing|ambiguous/.test(err.message) ? `option ${option} needs a value` : err.message;
    default:
      return err.message;
  }
}

export interface Setting {
  value: string;
  /** Where the value came from: the flag (`--port`), the environment variable (`SYNC_PORT`) or `default`. */
  from: string;
}

/**
 * A command's settings: each option's flag if given, else its environment variable if set and not
 * empty, else its default. Undefined when none applies.
 */
export function settingsOf(parsed: ParsedCommandLine, env: NodeJS.ProcessEnv = process.env): (name: string) => Setting | undefined {
  const spec = COMMANDS[parsed.command]!;
  return (name) => {
    const o = spec.options[name];
    if (!o) throw new Error(`no option --${name} for ${parsed.command}`);
    const flag = parsed.flags[name];
    if (typeof flag === 'string') return { value: flag, from: `--${name}` };
    const fromEnv = o.env ? env[o.env] : undefined;
    if (o.env && fromEnv) return { value: fromEnv, from: o.env };
    return o.default !== undefined ? { value: o.default, from: 'default' } : undefined;
  };
}

/** A whole number within [min, max] from a setting; a wrong one names where it came from. */
export function intSetting(name: string, s: Setting | undefined, min: number, max: number): number {
  if (!s) throw new UsageError(`--${name} is required`);
  if (!/^\d+$/.test(s.value) || Number(s.value) < min || Number(s.value) > max) {
    throw settingError(s, `must be a whole number from ${min} to ${max}`);
  }
  return Number(s.value);
}

/** A wrong value: a flag's is a wrong command line (usage follows); an environment variable's is named with what it held. */
export function settingError(s: Setting, problem: string): UsageError {
  return s.from.startsWith('--') ? new UsageError(`${s.from} ${problem}`) : new UsageError(`${s.from}=${JSON.stringify(s.value)}: ${problem}`, false);
}
