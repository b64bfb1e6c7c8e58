// A bare WebSocket client for the load generators where the client's own cost would hide the
// server's: 10,000 connects, or 1,000 receivers of one push. It speaks just enough RFC 6455 —
// the upgrade, masked text frames out (an all-zero mask), unmasked frames in, pongs — on a plain
// TCP socket, for a fraction of the CPU a full client library spends per connection.
import { connect as tcp } from 'node:net';

const UPGRADE = (host, path) =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : n < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 255]) : null;
  if (!head) throw new Error('frame too large for this client');
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

/** Opens `ws://host:port/path`; resolves once upgraded with {send(text), close(), onMessage}. */
export function openRaw(url) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcp(Number(u.port), u.hostname);
    socket.setNoDelay(true);
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    const ws = {
      onMessage: () => {},
      send: (text) => socket.write(frame(1, Buffer.from(text))),
      close: () => socket.destroy(),
    };
    socket.once('error', reject);
    socket.on('connect', () => socket.write(UPGRADE(u.host, u.pathname)));
    socket.on('data', (chunk) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buffered.subarray(0, 12).toString().includes('101')) return reject(new Error(buffered.toString()));
        upgraded = true;
        buffered = buffered.subarray(end + 4);
        resolve(ws);
      }
      while (buffered.length >= 2) {
        const opcode = buffered[0] & 15;
        let len = buffered[1] & 127;
        let at = 2;
        if (len === 126) {
          if (buffered.length < 4) return;
          len = buffered.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buffered.length < 10) return;
          len = Number(buffered.readBigUInt64BE(2));
          at = 10;
        }
        if (buffered.length < at + len) return;
        const payload = buffered.subarray(at, at + len);
        buffered = buffered.subarray(at + len);
        if (opcode === 9) socket.write(frame(10, payload));
        else if (opcode === 1 || opcode === 2) ws.onMessage(payload);
      }
    });
  });
}
