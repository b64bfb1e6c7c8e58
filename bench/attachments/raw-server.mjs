// The baseline of the attachment benchmark: the same server stack (uWebSockets.js in a Node
// process, the same payload limit and the server's 256 KiB high-water mark) moving the same bytes
// in the same 256 KiB binary frames, with nothing else: no authentication, hashing, database or
// store. Upload: frames are counted and dropped; `{"download":n}` answers with n bytes, sent only
// while uWS's buffer is under the high-water mark, then `"done"`.
// Run as a child: prints its port on stdout.
import uWS from 'uWebSockets.js';

const HIGH_WATER = 256 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 7);

const app = uWS.App();
app.ws('/*', {
  maxPayloadLength: 16 * 1024 * 1024,
  maxBackpressure: 64 * 1024 * 1024,
  idleTimeout: 120,
  open: (ws) => {
    ws.getUserData().received = 0;
  },
  message: (ws, data, isBinary) => {
    const state = ws.getUserData();
    if (isBinary) {
      state.received += data.byteLength;
      return;
    }
    const text = Buffer.from(data).toString();
    if (text === 'received?') return void ws.send(JSON.stringify({ received: state.received }));
    state.left = JSON.parse(text).download;
    pump(ws);
  },
  drain: (ws) => pump(ws),
});

function pump(ws) {
  const state = ws.getUserData();
  while (state.left > 0 && ws.getBufferedAmount() < HIGH_WATER) {
    const n = Math.min(state.left, CHUNK.length);
    ws.send(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n), true, false);
    state.left -= n;
    if (state.left === 0) ws.send('done', false, false);
  }
}

app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) {
    console.error('raw-server: cannot listen');
    process.exit(1);
  }
  console.log(uWS.us_socket_local_port(socket));
});
