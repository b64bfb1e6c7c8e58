import { purgeExpiredReplays, touchKeys } from './auth.js';
import type { Connection } from './connection.js';
import type { Database } from './db/database.js';
import type { Logger } from './logger.js';
import { inactiveKeys } from './store/credentials.js';

export interface TimerOptions {
  /** How often open sessions are checked against revoked keys (and used keys recorded). */
  revocationPollMs: number;
}

const REPLAY_PURGE_MS = 60_000;

/**
 * The server's periodic work: closing sessions whose key was revoked, recording which keys were
 * used (once per poll, not once per authentication), and forgetting expired replay entries.
 * Returns a function that stops them.
 */
export function startTimers(
  db: Database,
  log: Logger,
  opts: TimerOptions,
  connections: () => Iterable<Connection>,
  usedKeys: Set<string>,
  revoke: (conn: Connection) => void,
): () => void {
  const closeRevoked = async () => {
    const keys = new Set<string>();
    for (const c of connections()) if (c.session) keys.add(c.session.apiKey);
    try {
      const revoked = new Set(await inactiveKeys(db, [...keys]));
      if (revoked.size === 0) return;
      for (const c of connections()) if (c.session && revoked.has(c.session.apiKey)) revoke(c);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'revocation check failed');
    }
  };
  const recordUse = () => {
    const keys = [...usedKeys];
    usedKeys.clear();
    void touchKeys(db, keys).catch(() => {});
  };
  const timers = [
    setInterval(() => {
      void closeRevoked();
      recordUse();
    }, opts.revocationPollMs),
    setInterval(() => void purgeExpiredReplays(db).catch(() => {}), REPLAY_PURGE_MS),
  ];
  for (const t of timers) t.unref();
  return () => {
    for (const t of timers) clearInterval(t);
    recordUse();
  };
}
