import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  /** Where clients connect: 127.0.0.1 and this port. */
  readonly port: number;
  /** Bytes moved client → target and target → client, over every connection so far. */
  readonly bytesUp: number;
  readonly bytesDown: number;
  /** Cuts every open connection at once (both sides destroyed, no close handshake). */
  cutAll(): void;
  /** From now on, cuts a connection each time it has moved this many more bytes (either way); 0: never. */
  cutEvery(bytes: number): void;
  /**
   * While on, bytes from the target to clients are thrown away (a reply lost on the way back);
   * the connection itself stays up until the client or cutAll ends it.
   */
  dropDownstream(on: boolean): void;
  /** How many connections were cut by cutAll or cutEvery. */
  readonly cuts: number;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy in front of a server: counts the bytes each way and cuts connections on
 * demand, as a bad network does (mid-frame, without a close handshake). Faults and transfer tests
 * use it to interrupt a transfer where they choose and to see how much was sent again.
 */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<{ a: Socket; b: Socket; moved: number }>();
  let up = 0;
  let down = 0;
  let cuts = 0;
  let cutAfter = 0;
  let dropping = false;
  const cut = (p: { a: Socket; b: Socket }) => {
    if (!pairs.delete(p as never)) return;
    cuts++;
    p.a.destroy();
    p.b.destroy();
  };
  const server = createServer((a) => {
    const b = connect(targetPort, targetHost);
    const pair = { a, b, moved: 0 };
    pairs.add(pair);
    const moved = (n: number) => {
      pair.moved += n;
      if (cutAfter > 0 && pair.moved >= cutAfter) cut(pair);
    };
    a.on('data', (d: Buffer) => {
      up += d.length;
      if (!b.write(d)) a.pause();
      moved(d.length);
    });
    b.on('data', (d: Buffer) => {
      if (dropping) return;
      down += d.length;
      if (!a.write(d)) b.pause();
      moved(d.length);
    });
    a.on('drain', () => b.resume());
    b.on('drain', () => a.resume());
    const end = () => {
      pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    for (const s of [a, b]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get bytesUp() {
      return up;
    },
    get bytesDown() {
      return down;
    },
    get cuts() {
      return cuts;
    },
    cutAll: () => {
      for (const p of [...pairs]) cut(p);
    },
    cutEvery: (bytes: number) => {
      cutAfter = bytes;
    },
    dropDownstream: (on: boolean) => {
      dropping = on;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of [...pairs]) {
          p.a.destroy();
          p.b.destroy();
        }
        pairs.clear();
        server.close(() => resolve());
      }),
  };
}
