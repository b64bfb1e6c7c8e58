import {
  AUTH_MAX_SKEW_SECONDS,
  AUTH_REPLAY_WINDOW_SECONDS,
  authenticateBody,
  newUuid,
  PROTOCOL_VERSION,
  sign,
  signaturesEqual,
  unixSeconds,
  type AuthErrorReason,
  type ClientMessageOf,
} from '@json-sync/core';
import type { Database } from './db/database.js';
import { lookupKey } from './store/credentials.js';

export interface AuthenticatedSession {
  userId: string;
  applicationId: string;
  apiKey: string;
  latestSequence: number;
}

export type AuthOutcome = { ok: true; session: AuthenticatedSession } | { ok: false; reason: AuthErrorReason };

export interface AuthFailureLimit {
  /** Failures one address may have within `windowMs` before further attempts are refused outright. */
  maxFailures: number;
  windowMs: number;
}

/** Counts failed authentications per remote address in a sliding window (per process). */
export class AuthRateLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limit: AuthFailureLimit) {}

  private recent(address: string, now: number): number[] {
    const list = (this.failures.get(address) ?? []).filter((t) => now - t < this.limit.windowMs);
    if (list.length === 0) this.failures.delete(address);
    else this.failures.set(address, list);
    return list;
  }

  blocked(address: string, now = Date.now()): boolean {
    return this.recent(address, now).length >= this.limit.maxFailures;
  }

  fail(address: string, now = Date.now()): void {
    this.failures.set(address, [...this.recent(address, now), now]);
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * Checks an `authenticate` message in the order that reveals least: protocol, rate limit, clock,
 * key, signature, then the shared replay store. The user is created on first success, inside the
 * key's application only.
 */
export async function authenticate(db: Database, limiter: AuthRateLimiter, address: string, m: ClientMessageOf<'authenticate'>): Promise<AuthOutcome> {
  const failed = (reason: AuthErrorReason): AuthOutcome => {
    if (reason !== 'rate_limited') limiter.fail(address);
    return { ok: false, reason };
  };
  if (m.protocol_version !== undefined && m.protocol_version !== PROTOCOL_VERSION) return failed('unsupported_protocol');
  if (limiter.blocked(address)) return failed('rate_limited');
  if (Math.abs(unixSeconds() - m.timestamp) > AUTH_MAX_SKEW_SECONDS) return failed('timestamp_skew');
  const key = await lookupKey(db, m.api_key);
  if (!key) return failed('unknown_key');
  if (!key.active) return failed('revoked_key');
  const expected = sign({ secret: key.secret, timestamp: m.timestamp, email: m.email, apiKey: m.api_key, body: authenticateBody(m.client_id, m.nonce) });
  if (!signaturesEqual(expected, m.signature)) return failed('bad_signature');
  const fresh = await db.query(
    `INSERT INTO auth_replays (signature, expires_at) VALUES ($1, now() + make_interval(secs => $2))
     ON CONFLICT (signature) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE auth_replays.expires_at < now()`,
    [m.signature, AUTH_REPLAY_WINDOW_SECONDS],
  );
  if (fresh.rowCount === 0) return failed('replayed');
  const email = normalizeEmail(m.email);
  await db.query('INSERT INTO users (id, application_id, email, email_normalized) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [
    newUuid(),
    key.application_id,
    m.email,
    email,
  ]);
  const user = await db.query<{ id: string; last_sequence: number }>('SELECT id, last_sequence FROM users WHERE application_id = $1 AND email_normalized = $2', [
    key.application_id,
    email,
  ]);
  const row = user.rows[0]!;
  return { ok: true, session: { userId: row.id, applicationId: key.application_id, apiKey: m.api_key, latestSequence: row.last_sequence } };
}

/** Forgets replay entries past their window; run periodically by one of the server's timers. */
export async function purgeExpiredReplays(db: Database): Promise<void> {
  await db.query('DELETE FROM auth_replays WHERE expires_at < now()');
}

export async function touchKey(db: Database, apiKey: string): Promise<void> {
  await db.query('UPDATE api_credentials SET last_used_at = now() WHERE api_key = $1', [apiKey]);
}
