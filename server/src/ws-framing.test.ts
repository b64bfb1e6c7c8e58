import t, { type Test } from 'tap';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { startTestServer, TestClient } from '@json-sync/test-support';

// What a client sees when it breaks RFC 6455 itself. uWebSockets.js validates frames before the
// server sees them and drops such a connection without a close frame: clients report 1006, not
// 1007 (invalid UTF-8) or 1009 (too big). These tests pin that documented behaviour, and that the
// server and its other clients carry on.

const ts = await startTestServer({ prefix: 'ws_framing', args: ['--auth-timeout-seconds', '1'] });
t.teardown(() => ts.teardown());
const bystander = await TestClient.connect(ts.url, { email: 'bystander@example.com', apiKey: ts.apiKey, secret: ts.secret });
t.teardown(() => bystander.close());

/** One WebSocket frame as a client writes it: masked unless told otherwise. */
function frame(opcode: number, payload: Buffer, masked = true): Buffer {
  const len = payload.length;
  const maskBit = masked ? 0x80 : 0;
  let head: Buffer;
  if (len < 126) head = Buffer.from([0x80 | opcode, maskBit | len]);
  else if (len < 65536) {
    head = Buffer.from([0x80 | opcode, maskBit | 126, 0, 0]);
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!masked) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  return Buffer.concat([head, key, body]);
}

/** Opens a raw WebSocket, writes `data` after the upgrade, and reports how the server ended it. */
function rawSession(data: Buffer, waitMs: number): Promise<{ closedAfterMs: number | null; bytes: Buffer }> {
  return new Promise((resolve) => {
    const s = net.connect(ts.server.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let upgraded = false;
    const started = Date.now();
    s.on('connect', () =>
      s.write(`GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    );
    s.on('data', (d) => {
      received = Buffer.concat([received, d]);
      const end = received.indexOf('\r\n\r\n');
      if (!upgraded && end >= 0) {
        upgraded = true;
        received = received.subarray(end + 4);
        s.write(data);
      }
    });
    // The server may reset the connection while a large frame is still being written.
    s.on('error', () => {});
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ closedAfterMs: null, bytes: received });
    }, waitMs);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closedAfterMs: Date.now() - started, bytes: received });
    });
  });
}

async function othersUnaffected(t: Test): Promise<void> {
  await bystander.ping();
  t.equal(ts.server.child.exitCode, null, 'the server process is alive');
}

t.test('invalid UTF-8 in a text frame: the connection is dropped at once, without a close frame (clients see 1006)', async (t) => {
  const r = await rawSession(frame(1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 3000);
  t.ok(r.closedAfterMs !== null && r.closedAfterMs < 1000, `closed after ${r.closedAfterMs} ms`);
  t.equal(r.bytes.length, 0, 'no close frame, nothing else');
  await othersUnaffected(t);
});

t.test('a frame over 16 MiB: the connection is dropped at once, without a close frame (clients see 1006)', async (t) => {
  const r = await rawSession(frame(1, Buffer.alloc(17 * 1024 * 1024, 0x61)), 3000);
  t.ok(r.closedAfterMs !== null && r.closedAfterMs < 1000, `closed after ${r.closedAfterMs} ms`);
  t.equal(r.bytes.length, 0, 'no close frame, nothing else');
  await othersUnaffected(t);
});

t.test('an unmasked frame is not understood; before authentication the deadline closes the connection with 1008', async (t) => {
  const r = await rawSession(frame(1, Buffer.from('{"type":"ping"}'), false), 5000);
  t.ok(r.closedAfterMs !== null && r.closedAfterMs >= 900 && r.closedAfterMs < 3000, `closed by the 1 s deadline after ${r.closedAfterMs} ms`);
  t.equal(r.bytes[0], 0x88, 'with a close frame');
  t.equal(r.bytes.readUInt16BE(2), 1008, 'code 1008');
  t.match(r.bytes.subarray(4).toString(), /authentication timeout/);
  await othersUnaffected(t);
});

t.test('a connection that never authenticates is closed with 1008 when the deadline passes', async (t) => {
  const idle = await TestClient.open(ts.url);
  const closed = await idle.closed;
  t.equal(closed.code, 1008);
  t.equal(closed.reason, 'authentication timeout');
  t.same(idle.received, [], 'nothing was sent before');
  await othersUnaffected(t);
});

t.test('an authenticated connection is not subject to the deadline', async (t) => {
  const c = await TestClient.connect(ts.url, { email: 'slow@example.com', apiKey: ts.apiKey, secret: ts.secret });
  t.teardown(() => c.close());
  await new Promise((r) => setTimeout(r, 1500));
  await c.ping();
  t.pass('still open after the deadline');
});
