import { connect, createServer, type Socket } from 'node:net';

/** A TCP relay in front of a server whose connections a test can cut, counting what each direction carried. */
export interface CutProxy {
  /** The server's URL with the relay's port. */
  url: string;
  /** Bytes relayed so far, client → server and server → client, over every connection. */
  readonly up: number;
  readonly down: number;
  /** Destroys every relayed connection at once, both sides: to the engine, a dropped network. */
  cut(): void;
  close(): Promise<void>;
}

/** Starts a relay on a random loopback port to the host and port of `target` (a ws:// URL). */
export async function cutProxy(target: string): Promise<CutProxy> {
  const to = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let up = 0;
  let down = 0;
  const server = createServer((client) => {
    const upstream = connect(Number(to.port), to.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('data', (d) => (up += d.length));
    upstream.on('data', (d) => (down += d.length));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = new URL(target);
  url.port = String(port);
  const cut = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    url: url.toString(),
    get up() {
      return up;
    },
    get down() {
      return down;
    },
    cut,
    close() {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
