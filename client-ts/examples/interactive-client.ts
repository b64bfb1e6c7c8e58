/**
 * A task manager on top of SyncEngine: tasks are documents, every command works offline, and
 * changes made by other clients are printed as they arrive. Commands are read line by line from
 * stdin, so it can be driven by a pipe as well as typed at.
 *
 *   SYNC_API_SECRET=rps_… npm run client -- --api-key rpa_…
 *   npm run client -- --database bob --api-key rpa_… --user-id bob@example.com   (asks for the secret)
 *   head -c 32 /dev/urandom > bob.key && npm run client -- --database bob --encryption-key-file bob.key --api-key rpa_…
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EventType, SyncEngine, SyncError, type DocumentSnapshot, type JsonObject } from '../src/index.js';

type Priority = 'low' | 'medium' | 'high';
interface Task extends JsonObject {
  title: string;
  description: string;
  status: 'todo' | 'done';
  priority: Priority;
  tags: string[];
  created_at: string;
}

const PRIORITIES: readonly string[] = ['low', 'medium', 'high'];
const FIELDS = ['title', 'description', 'status', 'priority', 'tags'] as const;
const DEFAULTS = { database: 'client', server: 'ws://localhost:8080/ws', email: 'user@example.com' };
const USAGE = `usage: npm run client -- --api-key KEY [--database NAME] [--server URL] [--user-id EMAIL]

  --api-key KEY       API key (rpa_...); the secret comes from SYNC_API_SECRET, or is asked for without echo
  --database NAME     the SQLite file NAME.db in the current directory (used as a path when NAME
                      contains "/" or ends in .db); default ${DEFAULTS.database}
  --server URL        the sync server's WebSocket URL; default ${DEFAULTS.server}
  --user-id EMAIL     whose tasks to sync (--email is the same); default ${DEFAULTS.email}
  --api-secret KEY    the secret on the command line instead (other users of this machine can see it)
  --ca FILE           a certificate authority (PEM) to trust for wss:// besides the system's
  --encryption-key-file FILE
                      encrypt the database with the key in FILE: 32 bytes, or 64 hex digits
                      (SYNC_ENCRYPTION_KEY_FILE names it too); a plain database is encrypted
  --help              print this help
`;
const HELP = `commands (<id> is any unique prefix of a task id):
  add <title> [--desc TEXT] [--priority low|medium|high] [--tags a,b]
  list                       every task: status, priority, sync state, title, tags
  find <query>               tasks matching a query (JSON, docs/queries.md): find {"where": {"priority": "high"}}
  search <words>             tasks whose title, description or tags hold every word (synth* for a prefix)
  show <id>                  one task in full
  edit <id> <field> <value>  field: title, description, priority or tags (comma-separated)
  done <id> | undone <id>    mark complete / not complete
  delete <id>
  undo <id> | redo <id>      revert / re-apply your latest change to a task
  offline | online           stop / resume syncing (everything keeps working locally)
  sync                       wait until every change is uploaded and caught up
  status                     connection and pending changes
  help | quit`;

function usageError(message: string): never {
  process.stderr.write(`error: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseFlags(argv: string[]) {
  const names = ['database', 'server', 'user-id', 'email', 'api-key', 'api-secret', 'ca', 'encryption-key-file'] as const;
  let values: Partial<Record<(typeof names)[number], string>> & { help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { ...Object.fromEntries(names.map((k) => [k, { type: 'string' as const }])), help: { type: 'boolean' } },
    }));
  } catch (err) {
    usageError((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (!values['api-key']) usageError('missing --api-key');
  if (values['user-id'] && values.email && values['user-id'] !== values.email) usageError('--user-id and --email name two different users');
  const name = values.database ?? DEFAULTS.database;
  return {
    database: /[\\/]/.test(name) || name.endsWith('.db') ? name : `${name}.db`,
    server: values.server ?? DEFAULTS.server,
    email: values['user-id'] ?? values.email ?? DEFAULTS.email,
    apiKey: values['api-key'],
    apiSecret: values['api-secret'] ?? process.env.SYNC_API_SECRET,
    ca: values.ca,
    keyFile: values['encryption-key-file'] ?? process.env.SYNC_ENCRYPTION_KEY_FILE,
  };
}

/**
 * The key in `file`: 32 raw bytes, or 64 hex digits (a newline after them is fine). Anything else
 * is refused with its length only: a key's bytes are never printed.
 */
function readKeyFile(file: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    usageError(`cannot read the encryption key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (bytes.length === 32) return bytes;
  const hex = bytes.toString('latin1').trim();
  bytes.fill(0);
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
  usageError(`the encryption key file ${file} must hold 32 bytes or 64 hex digits (it holds ${hex.length} characters)`);
}

/** Reads the secret from the terminal without showing it. */
function promptSecret(): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    // Echo goes off before the prompt shows: nothing typed after it can be echoed.
    stdin.setRawMode(true);
    process.stdout.write('API secret (rps_...): ');
    stdin.resume();
    let secret = '';
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.off('data', onData);
          stdin.setRawMode(false);
          stdin.pause();
          process.stdout.write('\n');
          return resolve(secret);
        }
        if (ch === '\u0003') {
          process.stdout.write('\n');
          process.exit(130);
        }
        if (ch === '\u007f' || ch === '\b') secret = secret.slice(0, -1);
        else secret += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Content written by other programs may be anything; show it as a task with defaults. */
function asTask(content: JsonObject): Task {
  const str = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
  return {
    title: str(content.title, '(untitled)'),
    description: str(content.description, ''),
    status: content.status === 'done' ? 'done' : 'todo',
    priority: PRIORITIES.includes(content.priority as string) ? (content.priority as Priority) : 'medium',
    tags: Array.isArray(content.tags) ? content.tags.filter((x): x is string => typeof x === 'string') : [],
    created_at: str(content.created_at, ''),
  };
}

const short = (id: string) => id.slice(0, 8);
const parseTags = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
const fieldText = (t: Task, f: (typeof FIELDS)[number]) => (f === 'tags' ? t.tags.join(',') : f === 'title' || f === 'description' ? JSON.stringify(t[f]) : t[f]);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const errorText = (err: unknown) => `error: ${err instanceof SyncError ? `${err.code}: ` : ''}${(err as Error).message}`;

function checkPriority(value: string): Priority {
  if (!PRIORITIES.includes(value)) throw new SyncError('invalid_input', `priority is low, medium or high, not "${value}"`);
  return value as Priority;
}

const opts = parseFlags(process.argv.slice(2));
if (!opts.apiSecret) {
  // Commands come from stdin too: without a terminal there is no way to ask for the secret privately.
  if (process.stdin.isTTY !== true) usageError('no API secret: set SYNC_API_SECRET (stdin is not a terminal, so it cannot be asked for)');
  opts.apiSecret = await promptSecret();
  if (!opts.apiSecret) usageError('no API secret given');
}
const encryptionKey = opts.keyFile ? readKeyFile(opts.keyFile) : undefined;
let engine: SyncEngine;
try {
  engine = SyncEngine.open({
    databasePath: opts.database,
    serverUrl: opts.server,
    email: opts.email,
    apiKey: opts.apiKey,
    apiSecret: opts.apiSecret,
    ...(opts.ca ? { tlsCa: opts.ca } : {}),
    ...(encryptionKey ? { encryptionKey } : {}),
    // Someone is waiting at the keyboard: retry soon after an outage rather than after the default 30 s.
    reconnect: { minMs: 250, maxMs: 5000 },
    heartbeat: { intervalMs: 10_000, timeoutMs: 5000 },
  });
} catch (err) {
  process.stderr.write(`${errorText(err)}\n`);
  process.exit(1);
} finally {
  // The engine keeps no copy; neither does this program.
  encryptionKey?.fill(0);
}

const tty = process.stdin.isTTY === true;
const rl = createInterface({ input: process.stdin, ...(tty ? { output: process.stdout, terminal: true } : { terminal: false }) });
rl.setPrompt('tasks> ');
let busy = false;
let online = true;

/** A notice that arrives on its own (not as the answer to a command): keep the prompt below it. */
function notice(line: string): void {
  if (tty) process.stdout.write('\r\x1b[K'); // over the prompt
  console.log(line);
  if (tty && !busy) rl.prompt(true);
}

// The last content seen of each task, to say what a remote update changed.
const known = new Map<string, JsonObject>(engine.listDocuments().map((d) => [d.id, d.content]));

engine.onEvent((e) => {
  const id = e.documentId ?? '';
  const before = known.get(id);
  const was = before ? asTask(before) : undefined;
  switch (e.type) {
    case EventType.DocumentCreated:
    case EventType.DocumentUpdated:
    case EventType.DocumentDeleted: {
      if (e.content) known.set(id, e.content);
      else known.delete(id);
      // This client's own changes were reported by their command; a repeat of what is shown already says nothing.
      if (e.booleanData || (e.type === EventType.DocumentUpdated && JSON.stringify(before) === JSON.stringify(e.content))) return;
      const now = e.content ? asTask(e.content) : null;
      const title = now?.title ?? was?.title ?? e.title ?? '';
      const verb = e.type === EventType.DocumentCreated ? 'created' : e.type === EventType.DocumentDeleted ? 'deleted' : 'updated';
      const changed = was && now && verb === 'updated' ? FIELDS.filter((f) => fieldText(was, f) !== fieldText(now, f)) : [];
      const detail = changed.length > 0 ? `: ${changed.map((f) => `${f}=${fieldText(now!, f)}`).join(', ')}` : '';
      return notice(`* remote: ${verb} "${title}" (${short(id)})${detail}`);
    }
    case EventType.ConflictDetected: {
      const what = e.error === 'rebase' ? 'a pending change no longer applied and was dropped' : 'the server kept its version, your change was not applied';
      return notice(`* conflict: "${was?.title ?? e.title ?? ''}" (${short(id)}): ${what}`);
    }
    case EventType.SyncError:
      return notice(`* sync error: ${e.error}${e.documentId ? ` (${short(id)})` : ''}`);
    case EventType.ConnectionSucceeded:
      return notice('* connected');
    case EventType.ConnectionLost:
      return notice(`* disconnected: ${e.error}`);
    default:
      return;
  }
});

/** Tasks whose latest conflict came after this client's latest change of them: the user has not reacted yet. */
function unresolvedConflicts(): Map<string, string> {
  const latest = new Map<string, { at: string; reason: string }>();
  for (const c of engine.conflicts()) if ((latest.get(c.documentId)?.at ?? '') <= c.createdAt) latest.set(c.documentId, { at: c.createdAt, reason: c.reason });
  const open = new Map<string, string>();
  for (const [id, { at, reason }] of latest) if (!engine.history(id).some((h) => h.origin !== 'remote' && h.createdAt > at)) open.set(id, reason);
  return open;
}

function syncState(d: DocumentSnapshot, conflicts: Map<string, string>): 'pending' | 'synced' | 'conflict' {
  return conflicts.has(d.id) ? 'conflict' : d.pending > 0 || d.syncRevision === null ? 'pending' : 'synced';
}

function taskLine(d: DocumentSnapshot, conflicts: Map<string, string>): string {
  if (d.deletedAt) return `${short(d.id)} deleted`;
  const t = asTask(d.content);
  const tags = t.tags.map((tag) => ` #${tag}`).join('');
  return `${short(d.id)} [${t.status === 'done' ? 'x' : ' '}] ${t.priority.padEnd(6)} ${syncState(d, conflicts).padEnd(8)} ${t.title}${tags}`;
}

/** The one task whose id starts with `prefix`; undo and redo may also name a deleted task. */
function find(prefix: string, includeDeleted = false): DocumentSnapshot {
  if (!/^[0-9a-f-]+$/i.test(prefix)) throw new SyncError('invalid_input', 'give a task id (or its first characters)');
  const matches = engine.listDocuments({ includeDeleted }).filter((d) => d.id.startsWith(prefix.toLowerCase()));
  const live = matches.filter((d) => !d.deletedAt);
  if (matches.length === 1) return matches[0]!;
  if (live.length === 1) return live[0]!;
  if (matches.length === 0) throw new SyncError('not_found', `no task ${prefix}`);
  throw new SyncError('invalid_input', `${prefix} matches ${matches.length} tasks; type more of the id`);
}

function add(args: string): void {
  const parts: Record<string, string[]> = { title: [] };
  let current = 'title';
  for (const word of args.split(/\s+/).filter(Boolean)) {
    if (!word.startsWith('--')) parts[current]!.push(word);
    else if (['desc', 'priority', 'tags'].includes(word.slice(2))) parts[(current = word.slice(2))] = [];
    else throw new SyncError('invalid_input', `add takes --desc, --priority and --tags, not ${word}`);
  }
  const title = parts.title!.join(' ');
  if (!title) throw new SyncError('invalid_input', 'usage: add <title> [--desc TEXT] [--priority low|medium|high] [--tags a,b]');
  const task: Task = {
    title,
    description: parts.desc?.join(' ') ?? '',
    status: 'todo',
    priority: parts.priority ? checkPriority(parts.priority.join(' ')) : 'medium',
    tags: parseTags(parts.tags?.join(' ') ?? ''),
    created_at: new Date().toISOString(),
  };
  console.log(`added ${short(engine.createDocument(task))} "${title}"`);
}

function edit(args: string): void {
  const m = /^(\S+)\s+(\S+)\s*(.*)$/.exec(args);
  if (!m) throw new SyncError('invalid_input', 'usage: edit <id> <field> <value>');
  const [, prefix, field, value] = m as unknown as [string, string, string, string];
  let patch: JsonObject;
  if (field === 'title' && value) patch = { title: value };
  else if (field === 'description') patch = { description: value };
  else if (field === 'priority') patch = { priority: checkPriority(value) };
  else if (field === 'tags') patch = { tags: parseTags(value) };
  else throw new SyncError('invalid_input', field === 'title' ? 'a title cannot be empty' : `fields are title, description, priority and tags, not "${field}"`);
  const d = find(prefix);
  engine.mergeDocument(d.id, patch);
  console.log(`updated ${short(d.id)} ${field}=${fieldText(asTask(engine.getDocument(d.id)!.content), field as (typeof FIELDS)[number])}`);
}

function show(prefix: string): void {
  const d = find(prefix);
  const t = asTask(d.content);
  const conflict = unresolvedConflicts().get(d.id);
  const why = conflict === 'conflict' ? 'the server kept its version' : conflict === 'rebase' ? 'a pending change no longer applied' : `rejected by the server: ${conflict}`;
  const sync = conflict ? `conflict (${why})` : d.pending > 0 || d.syncRevision === null ? `pending (${plural(d.pending, 'change')} to upload)` : `synced (revision ${d.syncRevision})`;
  const rows = { id: d.id, title: t.title, description: t.description, status: t.status, priority: t.priority, tags: t.tags.join(', '), created: t.created_at || d.createdAt, updated: d.updatedAt, sync };
  for (const [k, v] of Object.entries(rows)) console.log(`${`${k}:`.padEnd(13)}${v}`);
}

/** `find`'s argument: a query as JSON text. */
function parseFindQuery(text: string): JsonObject {
  if (!text) throw new SyncError('invalid_input', 'usage: find <query>, e.g. find {"where": {"status": "todo"}, "sort": [{"priority": "desc"}]}');
  try {
    return JSON.parse(text) as JsonObject;
  } catch (err) {
    throw new SyncError('invalid_input', `find takes a query as JSON: ${(err as Error).message}`);
  }
}

async function run(line: string): Promise<'quit' | void> {
  const [, command = '', args = ''] = /^\s*(\S*)\s*(.*?)\s*$/.exec(line) ?? [];
  switch (command) {
    case '':
      return;
    case 'add':
      return add(args);
    case 'list': {
      const tasks = engine.listDocuments().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      const conflicts = unresolvedConflicts();
      for (const d of tasks) console.log(taskLine(d, conflicts));
      return void console.log(tasks.length === 0 ? 'no tasks' : plural(tasks.length, 'task'));
    }
    case 'find':
    case 'search': {
      const query = command === 'search' ? { search: args, sort: [{ created_at: 'asc' }] } : parseFindQuery(args);
      const result = engine.query(query);
      if ('count' in result) return void console.log(plural(result.count, 'task'));
      const conflicts = unresolvedConflicts();
      for (const d of result.documents) console.log(taskLine(d, conflicts));
      return void console.log(result.documents.length === 0 ? 'no tasks match' : `${plural(result.documents.length, 'task')}${result.next ? ' (more: add "after" with the next cursor)' : ''}`);
    }
    case 'show':
      return show(args);
    case 'edit':
      return edit(args);
    case 'done':
    case 'undone': {
      const d = find(args);
      engine.mergeDocument(d.id, { status: command === 'done' ? 'done' : 'todo' });
      return void console.log(`${short(d.id)} "${asTask(d.content).title}" is ${command === 'done' ? 'done' : 'not done'}`);
    }
    case 'delete': {
      const d = find(args);
      engine.deleteDocument(d.id);
      return void console.log(`deleted ${short(d.id)} "${asTask(d.content).title}"`);
    }
    case 'undo':
    case 'redo': {
      const d = find(args, true);
      engine[command](d.id);
      return void console.log(`${command}: ${taskLine(engine.getDocument(d.id)!, unresolvedConflicts())}`);
    }
    case 'offline':
      engine.setOnline((online = false));
      return void console.log('offline: changes stay on this machine until "online"');
    case 'online':
      engine.setOnline((online = true));
      return void console.log(`online: connecting to ${opts.server}`);
    case 'sync':
      if (!online) throw new SyncError('connection', 'offline; type "online" first');
      await engine.whenSynced(15_000);
      return void console.log('synced: every change is uploaded and caught up');
    case 'status': {
      const connection = engine.isConnected() ? 'connected' : online ? 'not connected (retrying)' : 'not connected (offline)';
      return void console.log(`status: ${connection}, ${engine.pendingCount()} pending, ${plural(engine.countDocuments(), 'task')}`);
    }
    case 'help':
      return void console.log(HELP);
    case 'quit':
    case 'exit':
      return 'quit';
    default:
      throw new SyncError('invalid_input', `unknown command "${command}"; type help`);
  }
}

// `search` reads this text index (declaring it again at every start does nothing).
engine.createTextIndex({ name: 'tasks_text', fields: ['title', 'description', 'tags'] });
console.log(`tasks in ${opts.database}: ${plural(engine.countDocuments(), 'task')}, ${engine.pendingCount()} pending; type help for commands`);
rl.on('SIGINT', () => rl.close());
process.on('SIGTERM', () => rl.close());
if (tty) rl.prompt();
for await (const line of rl) {
  busy = true;
  try {
    if ((await run(line)) === 'quit') break;
  } catch (err) {
    console.log(errorText(err));
  }
  busy = false;
  if (tty) rl.prompt();
}
rl.close();
// Flushes what the server can take in two seconds; the rest stays in the outbox for next time.
await engine.close(2000);
process.exit(0);
