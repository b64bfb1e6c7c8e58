// Moves `bytes` up and down through raw-server.mjs with the `ws` client the engine uses, in the
// engine's frame size and within the engine's upload window of unconfirmed bytes: the figure the
// attachment transfer is compared with.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const FRAME = 256 * 1024;

export async function startRawServer() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./raw-server.mjs', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout, 'data');
  return { url: `ws://127.0.0.1:${String(line).trim()}/`, pid: child.pid, stop: () => child.kill('SIGKILL') };
}

/** MB/s each way for `bytes` bytes. */
export async function rawTransfer(url, bytes) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await once(ws, 'open');
  const payload = Buffer.alloc(FRAME, 3);
  const asked = () =>
    new Promise((resolve) => {
      ws.once('message', (m) => resolve(JSON.parse(String(m)).received));
      ws.send('received?');
    });

  let t0 = performance.now();
  for (let sent = 0; sent < bytes; ) {
    const n = Math.min(FRAME, bytes - sent);
    ws.send(n === FRAME ? payload : payload.subarray(0, n), { binary: true });
    sent += n;
    // The engine keeps at most 1 MiB unconfirmed; the raw client lets the socket's own buffer say when.
    while (ws.bufferedAmount > 4 * FRAME) await new Promise((r) => setImmediate(r));
  }
  if ((await asked()) !== bytes) throw new Error('raw upload lost bytes');
  const up = bytes / 1e6 / ((performance.now() - t0) / 1000);

  t0 = performance.now();
  let got = 0;
  await new Promise((resolve) => {
    ws.on('message', (m, isBinary) => {
      if (isBinary) got += m.length;
      else if (String(m) === 'done') resolve();
    });
    ws.send(JSON.stringify({ download: bytes }));
  });
  if (got !== bytes) throw new Error('raw download lost bytes');
  const down = bytes / 1e6 / ((performance.now() - t0) / 1000);
  ws.close();
  return { up, down };
}
