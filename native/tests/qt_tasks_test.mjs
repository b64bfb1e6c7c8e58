// qt_tasks_test.mjs ENV_FILE QT_TASKS OUT_DIR — the Qt task list (native/examples/qt_tasks) on a
// display of its own (Xvfb) against the ctest fixture's server, beside a TypeScript engine
// (client-ts/dist) of the same user:
//   1. a task the TypeScript engine creates appears in the window;
//   2. add, tick done and delete, done through the window's widgets, reach the TypeScript engine;
//   3. a screenshot of the window (ImageMagick `import`) is a PNG of the window's size: OUT_DIR/qt_tasks.png;
//   4. the search box and the to do / done filter (one live query) show exactly the matching rows,
//      and the TypeScript engine's changes enter and leave the filtered list as they arrive;
//   5. attachments: a task the TypeScript engine creates with an image attached shows that picture
//      in its row, and an image attached in the window reaches the TypeScript engine byte for byte.
// What the window shows is read from the app's --self-test dump (the rows its list view lays out,
// as its accessibility interface names them); the app is driven through its stdin (self_test.hpp).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { readFixtureEnv } from './fixture-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { SyncEngine } = await import(join(root, 'client-ts', 'dist', 'src', 'index.js'));
const [envFile, qtTasks, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: qt_tasks_test.mjs ENV_FILE QT_TASKS OUT_DIR (run through ctest: the sync_server fixture writes ENV_FILE)');
  process.exit(2);
}
const env = readFixtureEnv(envFile);
const email = `qt-tasks-${process.pid}-${Date.now()}@example.com`;
const work = mkdtempSync(join(tmpdir(), 'qt-tasks-test-'));
const dumpFile = join(work, 'window.json');
const screenshot = join(outDir, 'qt_tasks.png');
// Generous: two cores shared with the rest of the suite.
const STEP_TIMEOUT_MS = 30_000;
const started = Date.now();
const children = [];

function log(message) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${message}`);
}

async function until(what, check) {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const value = check();
    if (value) return value;
    if (app?.exitCode != null || app?.signalCode != null) throw new Error(`qt_tasks ended (${app.exitCode ?? app.signalCode}) while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The app's latest report of its window, or null before the first one. */
function windowState() {
  try {
    return JSON.parse(readFileSync(dumpFile, 'utf8'));
  } catch {
    return null;
  }
}

const rowTitles = () => windowState()?.rows.map((r) => r.name.slice(0, r.name.indexOf(','))) ?? [];
const showing = (titles) => isDeepStrictEqual(rowTitles(), titles);
const rowNamed = (title) => windowState()?.rows.find((r) => r.name.startsWith(`${title},`));
const liveTask = (engine, title) => engine.listDocuments().find((d) => d.content.title === title);

/** Starts Xvfb on the first free display; -terminate: it exits when its last client (the app) goes. */
async function startDisplay() {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1024x768x24', '-terminate'], { stdio: ['ignore', 'ignore', 'inherit', 'pipe'] });
  children.push(xvfb);
  let text = '';
  xvfb.stdio[3].on('data', (chunk) => (text += chunk));
  const display = await until('Xvfb to report its display', () => (text.endsWith('\n') ? `:${text.trim()}` : null));
  log(`Xvfb on ${display}`);
  return display;
}

function startApp(display) {
  const app = spawn(qtTasks, ['--database', join(work, 'qt.db'), '--email', email, '--self-test', dumpFile], {
    // XDG_RUNTIME_DIR: Qt wants one (0700); a session's may not exist under ctest.
    env: { ...process.env, DISPLAY: display, QT_QPA_PLATFORM: 'xcb', XDG_RUNTIME_DIR: work, SYNC_SERVER_URL: env.SERVER_URL, SYNC_API_KEY: env.API_KEY, SYNC_API_SECRET: env.API_SECRET },
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  children.push(app);
  app.exited = new Promise((resolve) => app.on('exit', (code, signal) => resolve(signal ?? code)));
  return app;
}

/** Takes the screenshot from the X server and checks it is a PNG of the window's size with something drawn. */
function takeScreenshot(window) {
  mkdirSync(outDir, { recursive: true });
  execFileSync('import', ['-window', window.id, screenshot], { env: { ...process.env, DISPLAY: window.display } });
  const png = readFileSync(screenshot);
  if (png.length < 1000 || png.toString('latin1', 1, 4) !== 'PNG') throw new Error(`${screenshot} is not a PNG (${png.length} bytes)`);
  const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
  if (width !== window.width || height !== window.height) throw new Error(`screenshot is ${width}x${height}, the window ${window.width}x${window.height}`);
  const colours = Number(execFileSync('identify', ['-format', '%k', screenshot], { encoding: 'utf8' }));
  if (colours < 16) throw new Error(`screenshot has only ${colours} colours: nothing drawn?`);
  log(`screenshot ${screenshot}: ${width}x${height}, ${png.length} bytes, ${colours} colours`);
}

let engine;
let app;
try {
  const display = await startDisplay();
  engine = SyncEngine.open({
    databasePath: join(work, 'ts.db'),
    serverUrl: env.SERVER_URL,
    email,
    apiKey: env.API_KEY,
    apiSecret: env.API_SECRET,
    reconnect: { minMs: 250, maxMs: 2000 },
  });
  app = startApp(display);
  const command = (line) => {
    log(`app < ${line}`);
    app.stdin.write(`${line}\n`);
  };
  await until('the window to be shown and connected', () => windowState()?.window.exposed && windowState().status.startsWith('Connected'));
  log(`window shown: ${windowState().status}`);

  // 1. TypeScript → window.
  engine.createDocument({ title: 'Water the plants', description: 'from the TypeScript engine', status: 'todo', priority: 'high', tags: ['home'], created_at: new Date().toISOString() });
  const shown = await until('the TypeScript task in the window', () => rowNamed('Water the plants'));
  if (shown.text !== 'Water the plants  · high  #home' || shown.checked || shown.name !== 'Water the plants, to do, high priority, tags home')
    throw new Error(`the TypeScript task is shown as ${JSON.stringify(shown)}`);
  log(`window shows ${JSON.stringify(shown)}`);

  // 2. Window → TypeScript: add, tick done, delete.
  command('add Buy milk');
  await until('the added task in the window', () => rowNamed('Buy milk'));
  const added = await until('the added task in the TypeScript engine', () => liveTask(engine, 'Buy milk'));
  const { created_at: createdAt, ...rest } = added.content;
  if (!isDeepStrictEqual(rest, { title: 'Buy milk', description: '', status: 'todo', priority: 'medium', tags: [] }) || Number.isNaN(Date.parse(createdAt)))
    throw new Error(`the TypeScript engine got ${JSON.stringify(added.content)}`);
  log(`TypeScript engine has ${JSON.stringify(added.content)}`);

  command('toggle Buy milk');
  await until('the task ticked in the window', () => rowNamed('Buy milk')?.checked);
  await until('status done in the TypeScript engine', () => liveTask(engine, 'Buy milk')?.content.status === 'done');
  log('TypeScript engine has Buy milk done');

  // The acknowledgement reaches the status line within its 500 ms refresh: a settled window for the picture.
  await until('no pending change in the status line', () => !windowState().status.includes('not on the server'));
  const window = { ...windowState().window, display };
  takeScreenshot(window);

  command('delete Water the plants');
  await until('the deleted task gone from the window', () => windowState() && !rowNamed('Water the plants'));
  await until('the deletion in the TypeScript engine', () => !liveTask(engine, 'Water the plants'));
  log('TypeScript engine has Water the plants deleted');

  // 4. One live query behind the search box and the filter.
  // The window sorts by created_at: two tasks made in the same millisecond would tie and show in either order.
  let stamped = Date.now();
  const stamp = () => new Date((stamped = Math.max(Date.now(), stamped + 1))).toISOString();
  const task = (title, status) => ({ title, description: '', status, priority: 'medium', tags: [], created_at: stamp() });
  engine.createDocument(task('Call the plumber', 'todo'));
  const bread = engine.createDocument(task('Buy bread', 'todo'));
  await until('the new tasks in the window, oldest first', () => showing(['Buy milk', 'Call the plumber', 'Buy bread']));
  command('search buy');
  await until('the rows matching "buy"', () => showing(['Buy milk', 'Buy bread']));
  command('filter todo');
  await until('the to-do rows matching "buy"', () => showing(['Buy bread']));
  engine.createDocument(task('Buy eggs', 'todo'));
  await until('a remote task entering the filtered list', () => showing(['Buy bread', 'Buy eggs']));
  engine.mergeDocument(bread, { status: 'done' });
  await until('a remote change taking a task out of it', () => showing(['Buy eggs']));
  command('filter done');
  await until('the done rows matching "buy"', () => showing(['Buy milk', 'Buy bread']));
  command('search');
  command('filter all');
  await until('every row again', () => showing(['Buy milk', 'Call the plumber', 'Buy bread', 'Buy eggs']));
  log(`filtered and searched: ${JSON.stringify(rowTitles())}`);

  // 5. Images as attachments, both ways (ImageMagick draws them).
  const png = (size, colour) => execFileSync('convert', ['-size', size, `xc:${colour}`, 'png:-']);
  const leak = png('24x16', 'red');
  const leakRef = engine.addAttachment(leak, { contentType: 'image/png' });
  engine.createDocument({ ...task('Photo of the leak', 'todo'), image: leakRef });
  const photo = await until('the TypeScript task with its picture in the window', () => (rowNamed('Photo of the leak')?.image === '24x16' ? rowNamed('Photo of the leak') : null));
  log(`window shows ${JSON.stringify(photo)}`);
  const receipt = png('10x30', 'blue');
  const receiptPath = join(work, 'receipt.png');
  writeFileSync(receiptPath, receipt);
  command(`attach Buy milk|${receiptPath}`);
  await until('the attached picture in its row', () => rowNamed('Buy milk')?.image === '10x30');
  const withImage = await until('the image reference in the TypeScript engine', () => liveTask(engine, 'Buy milk')?.content.image);
  const got = await engine.getAttachment(withImage.$attachment);
  if (!got.equals(receipt) || withImage.content_type !== 'image/png' || withImage.length !== receipt.length)
    throw new Error(`the TypeScript engine got ${JSON.stringify(withImage)} and ${got.length} bytes, not the ${receipt.length} of the file`);
  log(`TypeScript engine has the attached image: ${JSON.stringify(withImage)}`);

  command('quit');
  const code = await Promise.race([app.exited, new Promise((resolve) => setTimeout(() => resolve('no exit within 15 s'), 15_000).unref())]);
  if (code !== 0) throw new Error(`qt_tasks ended with ${code}`);
  log('OK');
} catch (err) {
  console.error(`FAIL: ${err.message}\nlast window report: ${JSON.stringify(windowState())}`);
  process.exitCode = 1;
} finally {
  await engine?.close(1000);
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  rmSync(work, { recursive: true, force: true });
}
