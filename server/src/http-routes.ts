import type uWS from 'uWebSockets.js';
import type { Database } from './db/database.js';
import type { Metrics } from './metrics.js';
import type { ServerStatus } from './status.js';
import { databaseAnswers, healthBody } from './health.js';
import { STATUS_PAGE, STATUS_PAGE_CSP } from './status-page.js';

/**
 * GET /health (200 when the database answers within 2 s, else 503; HTTP/1.1 with Host only, see
 * health-listener.ts for the port that answers any request), GET /metrics, the status page
 * at GET / with its figures at GET /status.json, and 404 for the rest. `beforeScrape` brings the
 * gauges kept elsewhere up to date before either of them is read.
 */
export function httpRoutes(app: uWS.TemplatedApp, db: Database, metrics: Metrics, status: ServerStatus, beforeScrape: () => void): void {
  app.get('/health', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void databaseAnswers(db).then((ok) => {
      if (aborted) return;
      const { status, body } = healthBody(ok);
      res.cork(() => {
        res
          .writeStatus(status === 200 ? '200 OK' : '503 Service Unavailable')
          .writeHeader('content-type', 'application/json')
          .end(body);
      });
    });
  });
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    beforeScrape();
    void metrics.registry.metrics().then((body) => {
      if (aborted) return;
      res.cork(() => res.writeHeader('content-type', metrics.registry.contentType).end(body));
    });
  });
  app.get('/', (res) => {
    res
      .writeHeader('content-type', 'text/html; charset=utf-8')
      .writeHeader('content-security-policy', STATUS_PAGE_CSP)
      .writeHeader('cache-control', 'no-store')
      .end(STATUS_PAGE);
  });
  app.get('/status.json', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    beforeScrape();
    void status.snapshot().then((body) => {
      if (aborted) return;
      res.cork(() => res.writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store').end(JSON.stringify(body)));
    });
  });
  app.any('/*', (res) => {
    res.writeStatus('404 Not Found').end('not found');
  });
}
