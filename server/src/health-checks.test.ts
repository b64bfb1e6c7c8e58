import t from 'tap';
import { connect } from 'node:net';
import { startTestServer } from '@json-sync/test-support';

// /health as load balancers send it, on raw sockets: HAProxy's default `option httpchk GET /health`
// is an HTTP/1.0 request line and nothing else.
const ts = await startTestServer({ prefix: 'health_checks_test', args: ['--health-port', '0'] });
t.teardown(() => ts.teardown());

/** Writes `request` and reads until the server closes (or 5 s pass): the whole answer. */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', () => {});
  });
}

t.test('the health port answers every form of the request, then closes', async (t) => {
  const port = Number(new URL(ts.server.healthUrl!).port);
  for (const request of [
    'GET /health HTTP/1.0\r\n\r\n',
    'GET /health HTTP/1.0\r\nHost: sync\r\n\r\n',
    'GET /health HTTP/1.1\r\n\r\n',
    'GET /health HTTP/1.1\r\nHost: sync\r\nConnection: close\r\n\r\n',
  ]) {
    const answer = await raw(port, request);
    t.match(answer, /^HTTP\/1\.[01] 200 OK\r\n/, `${JSON.stringify(request)}: 200`);
    t.match(answer, /\r\n\r\n\{"status":"ok"\}$/, 'with its body, and the connection closed after it');
  }
  t.match(await raw(port, 'GET /metrics HTTP/1.0\r\n\r\n'), /^HTTP\/1\.[01] 404 /, 'only /health there');
  t.match(await raw(port, 'HEAD /health HTTP/1.0\r\n\r\n'), /^HTTP\/1\.[01] 200 OK\r\n(?:(?!\r\n\r\n)[\s\S])*\r\n\r\n$/, 'HEAD: the status without a body');
});

t.test('the main port answers HTTP/1.1 with Host, as before', async (t) => {
  const answer = await raw(ts.server.port, 'GET /health HTTP/1.1\r\nHost: sync\r\nConnection: close\r\n\r\n');
  t.match(answer, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"status":"ok"\}$/);
});

t.test('SIGTERM closes the health port first: the next check is refused', async (t) => {
  const other = await ts.startAnother({ args: ['--health-port', '0'] });
  const port = Number(new URL(other.healthUrl!).port);
  t.match(await raw(port, 'GET /health HTTP/1.0\r\n\r\n'), /^HTTP\/1\.[01] 200 /);
  const exit = await other.stop('SIGTERM');
  t.equal(exit.code, 0);
  t.equal(await raw(port, 'GET /health HTTP/1.0\r\n\r\n'), '', 'nothing listens there any more');
});
