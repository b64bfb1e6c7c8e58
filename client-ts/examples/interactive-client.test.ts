import t, { type Test } from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { harness } from '../src/test-support/harness.js';

// The compiled example, exactly what `npm run client` runs; `npm run build` must have run first.
const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'examples', 'interactive-client.js');
if (!existsSync(EXAMPLE)) throw new Error(`${EXAMPLE} is missing: run \`npm run build\` first`);

const TASK_LINE = /^[0-9a-f]{8} (?:\[[ x]\] |deleted$)/;
const LIST_END = /^(?:no tasks|\d+ tasks?)$/m;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A regular expression matching exactly one whole line of output. */
const line = (text: string) => new RegExp(`^${esc(text)}$`, 'm');

class Client {
  readonly child: ChildProcessWithoutNullStreams;
  out = '';
  err = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], cwd?: string) {
    this.child = spawn(process.execPath, [EXAMPLE, ...args], { cwd, stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.err += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Polls what was printed since offset `from` until `pattern` matches. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.out.slice(from));
      if (m) return m;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        const why = this.child.exitCode !== null ? `exited with ${this.child.exitCode}` : 'timed out';
        throw new Error(`${why} waiting for ${pattern}; printed since:\n${this.out.slice(from)}\nstderr:\n${this.err}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Sends one command; resolves with what was printed after it, up to the end of `expect`'s match. */
  async run(command: string, expect: RegExp, timeoutMs?: number): Promise<string> {
    const from = this.out.length;
    this.child.stdin.write(`${command}\n`);
    const m = await this.waitFor(expect, from, timeoutMs);
    return this.out.slice(from, from + m.index + m[0].length);
  }

  async add(command: string): Promise<string> {
    const text = await this.run(command, /^added ([0-9a-f]{8}) .*$/m);
    return /^added ([0-9a-f]{8}) /m.exec(text)![1]!;
  }

  /** The task lines of one `list`, leaving out notices that may arrive meanwhile. */
  async list(): Promise<string[]> {
    const text = await this.run('list', LIST_END);
    return text.split('\n').filter((l) => TASK_LINE.test(l));
  }
}

const h = await harness();
t.teardown(() => h.teardown());

/** Runs the example for `email` on `database` (a file in the harness's directory unless `cwd` is given). */
function start(t: Test, database: string, email: string, cwd?: string): Client {
  const path = cwd ? database : join(h.dir, database);
  const c = new Client(['--database', path, '--server', h.server.url, '--email', email, '--api-key', h.apiKey, '--api-secret', h.secret], cwd);
  t.teardown(() => {
    if (c.child.exitCode === null) c.child.kill('SIGKILL');
  });
  return c;
}

t.test('flags are parsed strictly: usage on stderr and exit 2, --help exits 0', async (t) => {
  // The first three messages are node:util parseArgs's own; only the flag they name is asserted.
  const cases: [string, string[], RegExp][] = [
    ['unknown flag', ['--database', 'x', '--bogus'], /^error: .*'--bogus'/],
    ['flag without its value', ['--server', 'ws://127.0.0.1:1/ws', '--database'], /^error: .*'--database\b.*missing/],
    ['missing flags', ['--database', 'x', '--server', 'ws://127.0.0.1:1/ws', '--email', 'a@example.com', '--api-key', 'k'], /^error: missing --api-secret\n/],
    ['no flags', [], /^error: missing --database, --server, --email, --api-key, --api-secret\n/],
    ['stray argument', ['bob'], /^error: .*'bob'/],
  ];
  for (const [what, args, message] of cases) {
    const c = new Client(args);
    t.equal(await c.exited, 2, `${what}: exit code`);
    t.equal(c.out, '', `${what}: nothing on stdout`);
    t.match(c.err, message, `${what}: says what is wrong`);
    t.match(c.err, /\n\nusage: npm run client -- --database NAME --server URL --email EMAIL --api-key KEY --api-secret SECRET\n/, `${what}: usage`);
  }
  const help = new Client(['--help']);
  t.equal(await help.exited, 0);
  t.match(help.out, /^usage: npm run client -- --database NAME /);
  t.match(help.out, /--api-secret/);
  t.equal(help.err, '');
});

t.test('a task added in one client appears in the other; done, edit and delete propagate', async (t) => {
  const a = start(t, 'a-prop.db', 'alice@example.com');
  const b = start(t, 'b-prop.db', 'alice@example.com');
  const id = await a.add('add Buy milk --desc two litres, semi-skimmed --priority high --tags dairy,weekly');
  await b.waitFor(line(`* remote: created "Buy milk" (${id})`));
  t.same(await b.list(), [`${id} [ ] high   synced   Buy milk #dairy #weekly`]);
  const shown = await b.run(`show ${id.slice(0, 4)}`, /^sync: .*$/m);
  t.match(shown, new RegExp(`^id: +${id}[0-9a-f-]{28}$`, 'm'));
  for (const row of ['title:       Buy milk', 'description: two litres, semi-skimmed', 'status:      todo', 'priority:    high', 'tags:        dairy, weekly', 'sync:        synced (revision 1)']) {
    t.match(shown, line(row));
  }

  await a.run(`done ${id}`, line(`${id} "Buy milk" is done`));
  await b.waitFor(line(`* remote: updated "Buy milk" (${id}): status=done`));
  t.same(await b.list(), [`${id} [x] high   synced   Buy milk #dairy #weekly`]);

  await b.run(`edit ${id} title Buy oat milk`, line(`updated ${id} title="Buy oat milk"`));
  await a.waitFor(line(`* remote: updated "Buy oat milk" (${id}): title="Buy oat milk"`));
  await b.run(`edit ${id} tags dairy`, line(`updated ${id} tags=dairy`));
  await a.waitFor(line(`* remote: updated "Buy oat milk" (${id}): tags=dairy`));
  t.same(await a.list(), [`${id} [x] high   synced   Buy oat milk #dairy`]);
  // B's edits reached A after A's own `done` was answered, so an echo would have shown by now.
  t.notMatch(a.out, /\* remote: (?:created "Buy milk"|updated "Buy milk")/, 'no echo of its own changes');

  await a.run(`delete ${id}`, line(`deleted ${id} "Buy oat milk"`));
  await b.waitFor(line(`* remote: deleted "Buy oat milk" (${id})`));
  t.same(await b.list(), []);
  t.equal(b.out.split(`* remote: created "Buy milk" (${id})`).length - 1, 1, 'one notice per remote change');
});

t.test('offline changes list as pending, then synced after online + sync', async (t) => {
  const a = start(t, 'a-off.db', 'carol@example.com');
  const b = start(t, 'b-off.db', 'carol@example.com');
  await a.waitFor(line('* connected'));
  await a.run('offline', line('offline: changes stay on this machine until "online"'));
  const id = await a.add('add Water plants --priority low');
  t.same(await a.list(), [`${id} [ ] low    pending  Water plants`]);
  await a.run('status', line('status: not connected (offline), 1 pending, 1 task'));
  await a.run('sync', line('error: connection: offline; type "online" first'));

  await a.run('online', line(`online: connecting to ${h.server.url}`));
  await a.run('sync', line('synced: every change is uploaded and caught up'));
  t.same(await a.list(), [`${id} [ ] low    synced   Water plants`]);
  await a.run('status', line('status: connected, 0 pending, 1 task'));
  await b.waitFor(line(`* remote: created "Water plants" (${id})`));
  t.same(await b.list(), [`${id} [ ] low    synced   Water plants`]);
});

t.test('bad commands and engine errors print an error and the loop goes on; undo and redo', async (t) => {
  const a = start(t, 'a-err.db', 'dave@example.com');
  await a.run('frobnicate now', line('error: invalid_input: unknown command "frobnicate"; type help'));
  await a.run('done 0000', line('error: not_found: no task 0000'));
  await a.run('add --priority high', line('error: invalid_input: usage: add <title> [--desc TEXT] [--priority low|medium|high] [--tags a,b]'));
  await a.run('add Thing --colour red', line('error: invalid_input: add takes --desc, --priority and --tags, not --colour'));
  const id = await a.add('add First title');
  await a.run(`edit ${id} priority urgent`, line('error: invalid_input: priority is low, medium or high, not "urgent"'));
  await a.run(`edit ${id} colour red`, line('error: invalid_input: fields are title, description, priority and tags, not "colour"'));
  const full = /^id: +(\S+)$/m.exec(await a.run(`show ${id}`, /^sync: .*$/m))![1]!;
  // This one comes from the engine itself, with the engine's code.
  await a.run(`redo ${id}`, line(`error: not_found: nothing to redo for ${full}`));
  await a.run(`edit ${id} title Second title`, line(`updated ${id} title="Second title"`));
  const state = (verb: string, title: string) => new RegExp(`^${verb}: ${id} \\[ \\] medium (?:pending|synced) +${title}$`, 'm');
  await a.run(`undo ${id}`, state('undo', 'First title'));
  await a.run(`redo ${id}`, state('redo', 'Second title'));
  await a.run(`undo ${id}`, state('undo', 'First title'));
  // Undoing the create deletes the task; redo brings it back.
  await a.run(`undo ${id}`, line(`undo: ${id} deleted`));
  t.same(await a.list(), []);
  await a.run('help', line('  help | quit'));
  await a.run('status', /^status: (?:connected|not connected \(retrying\)), \d+ pending, 0 tasks$/m);
  t.equal(a.child.exitCode, null, 'still running after every error');
  // The redo stack is last-undone-first: the create was undone last, so it is redone first.
  t.match(await a.run(`redo ${id}`, /^(?:redo|error): .*$/m), state('redo', 'First title'), 'redo after undoing the create revives the task');
  await a.run('sync', line('synced: every change is uploaded and caught up'));
  t.same(await a.list(), [`${id} [ ] medium synced   First title`], 'the revived task is listed and synced');
  t.equal(a.err, '');
});

t.test('a lost edit is reported and listed as a conflict until the task is changed again', async (t) => {
  const a = start(t, 'a-conf.db', 'erin@example.com');
  const b = start(t, 'b-conf.db', 'erin@example.com');
  const id = await a.add('add Shared task');
  await b.waitFor(line(`* remote: created "Shared task" (${id})`));
  await a.run('sync', line('synced: every change is uploaded and caught up'));
  await a.run('offline', /^offline: /m);
  await a.run(`edit ${id} title From A`, line(`updated ${id} title="From A"`));
  await b.run(`edit ${id} title From B`, line(`updated ${id} title="From B"`));
  await b.run('sync', line('synced: every change is uploaded and caught up'));
  await a.run('online', /^online: /m);
  await a.waitFor(line(`* conflict: "From A" (${id}): the server kept its version, your change was not applied`));
  await a.waitFor(line(`* remote: updated "From B" (${id}): title="From B"`));
  await a.run('sync', line('synced: every change is uploaded and caught up'));
  t.same(await a.list(), [`${id} [ ] medium conflict From B`]);
  t.match(await a.run(`show ${id}`, /^sync: .*$/m), line('sync:        conflict (the server kept its version)'));
  await a.run(`edit ${id} priority high`, line(`updated ${id} priority=high`));
  await a.run('sync', line('synced: every change is uploaded and caught up'));
  t.same(await a.list(), [`${id} [ ] high   synced   From B`]);
  await b.waitFor(line(`* remote: updated "From B" (${id}): priority=high`));
  t.same(await b.list(), [`${id} [ ] high   synced   From B`]);
});

t.test('quit and end of input close the engine and exit 0; --database NAME is NAME.db here, held by one process', async (t) => {
  const a = start(t, 'a-quit.db', 'frank@example.com');
  const b = start(t, 'frank', 'frank@example.com', h.dir);
  await b.waitFor(line('tasks in frank.db: 0 tasks, 0 pending; type help for commands'));
  t.ok(existsSync(join(h.dir, 'frank.db')), 'the database file is NAME.db in the working directory');
  const second = start(t, 'frank.db', 'frank@example.com', h.dir);
  t.equal(await second.exited, 1, 'a second process on the same file is refused');
  t.match(second.err, /^error: locked: /);

  await a.waitFor(line('* connected'));
  // Added right before quitting: closing flushes it, so B must still receive it.
  a.child.stdin.write('add Last words\nquit\nadd Never read\n');
  t.equal(await a.exited, 0);
  t.match(a.out, /^added [0-9a-f]{8} "Last words"$/m);
  t.notMatch(a.out, /Never read/, 'nothing after quit runs');
  t.equal(a.err, '');
  await b.waitFor(/^\* remote: created "Last words" \([0-9a-f]{8}\)$/m);

  b.child.stdin.end();
  t.equal(await b.exited, 0, 'end of input exits like quit');
  t.equal(b.err, '');
});
