// The fan-out floor: bare uWebSockets.js pub/sub on a random loopback port, every connection
// subscribed to one topic, each message republished from its sender (which uWS skips). Prints
// the port, then serves until killed.
import { createRequire } from 'node:module';
const require = createRequire(new URL('../../server/package.json', import.meta.url));
const uWS = require('uWebSockets.js');

const app = uWS.App().ws('/*', {
  maxPayloadLength: 1 << 20,
  maxBackpressure: 64 << 20,
  open: (ws) => ws.subscribe('t'),
  message: (ws, data) => ws.publish('t', data, false, false),
});
app.listen('127.0.0.1', 0, (socket) => {
  process.stdout.write(`${uWS.us_socket_local_port(socket)}\n`);
});
