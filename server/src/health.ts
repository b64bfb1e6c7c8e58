import type { Database } from './db/database.js';

/** How long /health waits for the database before it answers 503. */
const HEALTH_TIMEOUT_MS = 2000;

/** Whether the database answers `SELECT 1` within 2 s: what /health reports, on either listener. */
export function databaseAnswers(db: Database): Promise<boolean> {
  const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), HEALTH_TIMEOUT_MS).unref());
  return Promise.race([db.query('SELECT 1').then(() => true, () => false), timeout]);
}

export function healthBody(ok: boolean): { status: number; body: string } {
  return ok ? { status: 200, body: JSON.stringify({ status: 'ok' }) } : { status: 503, body: JSON.stringify({ status: 'database unavailable' }) };
}
