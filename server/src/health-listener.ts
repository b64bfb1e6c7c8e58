import { createServer, type Server } from 'node:http';
import type { Database } from './db/database.js';
import { databaseAnswers, healthBody } from './health.js';

/**
 * GET /health on a port of its own, served by Node's HTTP parser. The uWebSockets.js build we run
 * (20.30) parses only `HTTP/1.1` request lines and drops a 1.1 request without `Host`, so the
 * health checks load balancers send by default (HAProxy's `option httpchk` is
 * `GET /health HTTP/1.0` with no headers) get no byte back on the main port. Here any HTTP version
 * is answered, with or without Host, and the connection closed after it.
 */
export async function listenForHealthChecks(db: Database, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  // requireHostHeader: Node 20 answers 400 to HTTP/1.1 without Host, which a checker may well send.
  const server: Server = createServer({ requireHostHeader: false } as Parameters<typeof createServer>[0] & object, (req, res) => {
    res.shouldKeepAlive = false;
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/health' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    void databaseAnswers(db).then((ok) => {
      const { status, body } = healthBody(ok);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body);
    });
  });
  // A checker that connects and sends nothing must not keep a socket for long.
  server.headersTimeout = 5000;
  server.requestTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
