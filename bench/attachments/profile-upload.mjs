// One large upload and download with the server under --cpu-prof (profiles in --dir, default
// /tmp/attachment-profile), for where the server's time goes. Usage: node bench/attachments/profile-upload.mjs [--mb 100] [--dir D]
import { randomBytes } from 'node:crypto';
import { EventType } from '../../client-ts/dist/src/index.js';
import { startBenchServer } from '../bench-server.mjs';
import { closeAll, now, openEngine } from '../client/engines.mjs';

const args = Object.fromEntries(process.argv.slice(2).join(' ').split('--').filter(Boolean).map((s) => s.trim().split(/\s+/)));
const mb = Number(args.mb ?? 100);
const dir = args.dir ?? '/tmp/attachment-profile';
const srv = await startBenchServer('attachment_profile', { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
try {
  const connect = (email) => ({ serverUrl: srv.url, apiKey: srv.apiKey, apiSecret: srv.secret, email });
  const a = openEngine('prof-a', connect('prof@example.com'));
  const b = openEngine('prof-b', connect('prof@example.com'));
  await Promise.all([a.whenSynced(30_000), b.whenSynced(30_000)]);
  const ref = a.addAttachment(randomBytes(mb * 1024 * 1024));
  let t0 = now();
  await new Promise((resolve) => a.onEvent((e) => e.content?.$attachment === ref.$attachment && e.booleanData && resolve(), [EventType.AttachmentCompleted]));
  console.log(`upload ${(mb / ((now() - t0) / 1000)).toFixed(1)} MB/s`);
  t0 = now();
  await b.getAttachment(ref);
  console.log(`download ${(mb / ((now() - t0) / 1000)).toFixed(1)} MB/s`);
} finally {
  await closeAll();
  await srv.stopServer();
  await srv.stop();
}
console.log(`profiles in ${dir}`);
