import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { filesHolding } from '../src/test-support/encryption.js';
import { harness } from '../src/test-support/harness.js';
import { Client, line } from '../src/test-support/interactive-client.js';

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
    ['unknown flag', ['--api-key', 'x', '--bogus'], /^error: .*'--bogus'/],
    ['flag without its value', ['--server', 'ws://127.0.0.1:1/ws', '--database'], /^error: .*'--database\b.*missing/],
    ['no flags', [], /^error: missing --api-key\n/],
    ['no key', ['--database', 'x', '--user-id', 'a@example.com'], /^error: missing --api-key\n/],
    ['stray argument', ['bob'], /^error: .*'bob'/],
    ['two different users', ['--api-key', 'k', '--user-id', 'a@example.com', '--email', 'b@example.com'], /^error: --user-id and --email name two different users\n/],
    // stdin is a pipe here: the secret cannot be asked for without echo.
    ['no secret and no terminal', ['--api-key', h.apiKey], /^error: no API secret: set SYNC_API_SECRET \(stdin is not a terminal, so it cannot be asked for\)\n/],
  ];
  for (const [what, args, message] of cases) {
    const c = new Client(args);
    t.equal(await c.exited, 2, `${what}: exit code`);
    t.equal(c.out, '', `${what}: nothing on stdout`);
    t.match(c.err, message, `${what}: says what is wrong`);
    t.match(c.err, /\n\nusage: npm run client -- --api-key KEY \[--database NAME\] \[--server URL\] \[--user-id EMAIL\]\n/, `${what}: usage`);
  }
  const help = new Client(['--help']);
  t.equal(await help.exited, 0);
  t.match(help.out, /^usage: npm run client -- --api-key KEY /);
  for (const part of ['SYNC_API_SECRET', 'without echo', '--database NAME', 'default client', '--server URL', 'default ws://localhost:8080/ws', '--user-id EMAIL', '--email', '--api-secret']) {
    t.match(help.out, part, `--help mentions ${part}`);
  }
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

t.test('find runs a query, search a full-text search over titles, descriptions and tags; bad ones say why', async (t) => {
  const a = start(t, 'a-find.db', 'finder@example.com');
  const pad = await a.add('add Mix the synth pad --priority high --tags audio,synth');
  const stems = await a.add('add Bounce stems --desc render every track --priority low --tags audio');
  await a.add('add Fix Émile preset --priority high --tags synth');
  const high = await a.run('find {"where": {"priority": "high", "tags": "audio"}}', /^(1 task|\d+ tasks|no tasks match)$/m);
  t.match(high, new RegExp(`^${pad} \\[ \\] high +\\w+ +Mix the synth pad #audio #synth$`, 'm'));
  t.match(high, line('1 task'));
  t.match(await a.run('find {"where": {"tags": "audio"}, "count": true}', /^\d+ tasks?$/m), line('2 tasks'));
  const found = await a.run('search EMILE', /^(1 task|\d+ tasks|no tasks match)$/m);
  t.match(found, /Fix Émile preset/, 'case and diacritics folded');
  const prefix = await a.run('search rend*', /^(1 task|\d+ tasks|no tasks match)$/m);
  t.match(prefix, new RegExp(`^${stems} \\[ \\] low +\\w+ +Bounce stems #audio$`, 'm'), 'a prefix finds the description');
  t.match(await a.run('search nothing-like-this', /^no tasks match$/m), line('no tasks match'));
  t.match(await a.run('find {"where": {"priority": {"$inn": ["high"]}}}', /^error: .*$/m), line('error: invalid_input: where.priority.$inn: unknown operator'));
  t.match(await a.run('find {oops', /^error: .*$/m), /^error: invalid_input: find takes a query as JSON/m);
  t.match(await a.run('find', /^error: .*$/m), /^error: invalid_input: usage: find <query>/m);
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

t.test('--encryption-key-file (or SYNC_ENCRYPTION_KEY_FILE) encrypts the database; without the key it is refused', async (t) => {
  const db = join(h.dir, 'sealed.db');
  const keyFile = join(h.dir, 'sealed.key');
  writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`);
  const flags = ['--database', db, '--server', h.server.url, '--email', 'grace@example.com', '--api-key', h.apiKey, '--api-secret', h.secret];
  const a = new Client([...flags, '--encryption-key-file', keyFile]);
  t.teardown(() => void a.child.kill('SIGKILL'));
  const id = await a.add('add Lighthouse-Quartermaster-Memo');
  a.child.stdin.write('quit\n');
  t.equal(await a.exited, 0);
  t.same(filesHolding(db, 'Lighthouse-Quartermaster-Memo').filter((f) => f.holds), [], 'the title is in none of the files');

  const keyless = new Client(flags);
  t.equal(await keyless.exited, 1);
  t.match(keyless.err, /^error: wrong_key: .*sealed\.db is encrypted: open it with its encryption key\n$/);

  const b = new Client(flags, undefined, { SYNC_ENCRYPTION_KEY_FILE: keyFile });
  t.teardown(() => void b.child.kill('SIGKILL'));
  t.match((await b.list()).join('\n'), id, 'SYNC_ENCRYPTION_KEY_FILE opens it');
  b.child.stdin.write('quit\n');
  t.equal(await b.exited, 0);

  const short = join(h.dir, 'short.key');
  writeFileSync(short, randomBytes(31));
  const refused = new Client([...flags, '--encryption-key-file', short]);
  t.equal(await refused.exited, 2);
  t.match(refused.err, /^error: the encryption key file .*short\.key must hold 32 bytes or 64 hex digits \(it holds \d+ characters\)\n/);
});
