// Authentication storm, run as its own process by run.mjs: N bare clients (raw-ws.mjs) connect and
// authenticate at once (at most `concurrency` handshakes open at a time), as after a server restart. Prints the
// time from the first connect to the last auth_success, then keeps every connection open and idle
// until a line arrives on stdin (the parent measures the server's memory meanwhile).
import { randomUUID } from 'node:crypto';
import { connectRaw, handshake } from './protocol.mjs';

const [url, apiKey, secret, countArg, concurrencyArg, prefix] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concurrencyArg);

const sockets = [];
let next = 0;
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < count) {
    const i = next++;
    sockets.push(await connectRaw(url, apiKey, secret, `${prefix}-${i}@example.com`, randomUUID()));
  }
}));
const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
await handshake({ connected: sockets.length, elapsed, rate: sockets.length / elapsed });
for (const ws of sockets) ws.close();
process.exit(0);
