import {
  AUTH_MAX_SKEW_SECONDS,
  AUTH_REPLAY_WINDOW_SECONDS,
  authenticateBody,
  newUuid,
  SUPPORTED_PROTOCOL_VERSIONS,
  sign,
  signaturesEqual,
  unixSeconds,
  type AuthErrorReason,
  type ClientMessageOf,
} from '@json-sync/core';
import type { Database } from './db/database.js';
import { lookupKey, type KeyLookup } from './store/credentials.js';

export interface AuthenticatedSession {
  userId: string;
  applicationId: string;
  applicationName: string;
  apiKey: string;
  latestSequence: number;
}

export type AuthOutcome =
  | { ok: true; session: AuthenticatedSession }
  | {
      ok: false;
      reason: AuthErrorReason;
      /** The key's application, when the key was found. */
      applicationId?: string;
      applicationName?: string;
      /** A rate-limited refusal after the first of its window (which alone is logged), and that window. */
      repeat?: boolean;
      windowSeconds?: number;
    };

export interface AuthFailureLimit {
  /** Failures one address may have within `windowMs` before further attempts are refused outright. */
  maxFailures: number;
  windowMs: number;
}

/**
 * Counts failed authentications per remote address in a sliding window (per process), and when
 * an address over the limit was last reported, so that it is reported once per window.
 */
export class AuthRateLimiter {
  private readonly addresses = new Map<string, { failures: number[]; reportedAt: number }>();

  constructor(readonly limit: AuthFailureLimit) {}

  private recent(address: string, now: number): { failures: number[]; reportedAt: number } | undefined {
    const entry = this.addresses.get(address);
    if (!entry) return undefined;
    entry.failures = entry.failures.filter((t) => now - t < this.limit.windowMs);
    if (entry.failures.length === 0 && now - entry.reportedAt >= this.limit.windowMs) {
      this.addresses.delete(address);
      return undefined;
    }
    return entry;
  }

  /** False while the address may try; else 'first' for the first refusal of a window, 'repeat' for the rest. */
  blocked(address: string, now = Date.now()): false | 'first' | 'repeat' {
    const entry = this.recent(address, now);
    if (!entry || entry.failures.length < this.limit.maxFailures) return false;
    if (now - entry.reportedAt < this.limit.windowMs) return 'repeat';
    entry.reportedAt = now;
    return 'first';
  }

  fail(address: string, now = Date.now()): void {
    const entry = this.recent(address, now);
    if (entry) entry.failures.push(now);
    else this.addresses.set(address, { failures: [now], reportedAt: -Infinity });
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

interface PendingCheck {
  signature: string;
  apiKey: string;
  applicationId: string;
  applicationName: string;
  email: string;
  emailNormalized: string;
  resolve(outcome: AuthOutcome): void;
  reject(err: unknown): void;
}

interface CheckedRow {
  i: number;
  active: boolean;
  fresh: boolean;
  user_id: string | null;
  last_sequence: number | null;
}

/** Authentications checked against the database together, in one statement. */
const MAX_AUTH_BATCH = 200;
const MAX_CONCURRENT_AUTH_BATCHES = 2;

/**
 * Checks `authenticate` messages in the order that reveals least: protocol, rate limit, clock,
 * key, signature, then the shared replay store. The user is created on first success, inside the
 * key's application only.
 *
 * A key's secret and application never change, so they are kept after the first lookup; whether
 * the key is still active is read again with every check. What only the database can answer —
 * active key, replay store (shared by every process), the user row — is asked for many
 * authentications at once, in one statement, so a reconnect storm costs a few round trips, not
 * five per client.
 */
export class Authenticator {
  private readonly keys = new Map<string, KeyLookup & { apiKey: string }>();
  private readonly lookups = new Map<string, Promise<KeyLookup | null>>();
  private pending: PendingCheck[] = [];
  private running = 0;

  constructor(
    private readonly db: Database,
    private readonly limiter: AuthRateLimiter,
  ) {}

  async authenticate(address: string, m: ClientMessageOf<'authenticate'>): Promise<AuthOutcome> {
    const failed = (reason: AuthErrorReason, key?: KeyLookup): AuthOutcome => {
      this.limiter.fail(address);
      return key ? { ok: false, reason, applicationId: key.application_id, applicationName: key.application_name } : { ok: false, reason };
    };
    if (m.protocol_version !== undefined && !(SUPPORTED_PROTOCOL_VERSIONS as readonly number[]).includes(m.protocol_version)) return failed('unsupported_protocol');
    const blocked = this.limiter.blocked(address);
    if (blocked) return { ok: false, reason: 'rate_limited', repeat: blocked === 'repeat', windowSeconds: this.limiter.limit.windowMs / 1000 };
    if (Math.abs(unixSeconds() - m.timestamp) > AUTH_MAX_SKEW_SECONDS) return failed('timestamp_skew');
    const key = await this.lookup(m.api_key);
    if (!key) return failed('unknown_key');
    if (!key.active) return failed('revoked_key', key);
    const expected = sign({ secret: key.secret, timestamp: m.timestamp, email: m.email, apiKey: m.api_key, body: authenticateBody(m.client_id, m.nonce) });
    if (!signaturesEqual(expected, m.signature)) return failed('bad_signature', key);
    const outcome = await new Promise<AuthOutcome>((resolve, reject) => {
      this.pending.push({
        signature: m.signature,
        // The cached key's strings: thousands of sessions then hold one copy, not one each.
        apiKey: key.apiKey,
        applicationId: key.application_id,
        applicationName: key.application_name,
        email: m.email,
        emailNormalized: normalizeEmail(m.email),
        resolve,
        reject,
      });
      this.startChecks();
    });
    if (!outcome.ok) {
      // Revocation is for good: later attempts with this key are refused without asking the database.
      if (outcome.reason === 'revoked_key') key.active = false;
      return failed(outcome.reason, key);
    }
    return outcome;
  }

  private async lookup(apiKey: string): Promise<(KeyLookup & { apiKey: string }) | null> {
    const known = this.keys.get(apiKey);
    if (known) return known;
    // A storm's first thousand connects of one key share one lookup.
    let lookup = this.lookups.get(apiKey);
    if (!lookup) {
      lookup = lookupKey(this.db, apiKey).finally(() => this.lookups.delete(apiKey));
      this.lookups.set(apiKey, lookup);
    }
    const found = await lookup;
    if (!found) return null;
    const key = this.keys.get(apiKey) ?? { ...found, apiKey };
    this.keys.set(apiKey, key);
    return key;
  }

  private startChecks(): void {
    while (this.running < MAX_CONCURRENT_AUTH_BATCHES && this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_AUTH_BATCH);
      this.running++;
      void this.check(batch)
        .catch((err) => {
          for (const p of batch) p.reject(err);
        })
        .finally(() => {
          this.running--;
          this.startChecks();
        });
    }
  }

  /**
   * One statement for a batch: keys still active, signatures never seen (recorded in the shared
   * replay store), users created on their first success and read with their latest sequence.
   */
  private async check(batch: PendingCheck[]): Promise<void> {
    const input = batch.map((p, i) => ({ i, sig: p.signature, key: p.apiKey, app: p.applicationId, email: p.email, norm: p.emailNormalized, uid: newUuid() }));
    const r = await this.db.query<CheckedRow>(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(i int, sig text, key text, app uuid, email text, norm text, uid uuid)
       ), active AS (
         SELECT input.* FROM input JOIN api_credentials k ON k.api_key = input.key AND k.active
       ), fresh AS (
         INSERT INTO auth_replays (signature, expires_at)
         SELECT DISTINCT sig, now() + make_interval(secs => $2) FROM active
         ON CONFLICT (signature) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE auth_replays.expires_at < now()
         RETURNING signature
       ), first AS (
         -- One row per signature: a signature sent twice in one batch is fresh once.
         SELECT DISTINCT ON (a.sig) a.* FROM active a JOIN fresh f ON f.signature = a.sig ORDER BY a.sig, a.i
       ), created AS (
         INSERT INTO users (id, application_id, email, email_normalized)
         SELECT DISTINCT ON (app, norm) uid, app, email, norm FROM first ORDER BY app, norm, i
         ON CONFLICT DO NOTHING
         RETURNING id, application_id, email_normalized, last_sequence
       ), known AS (
         SELECT u.id, u.application_id, u.email_normalized, u.last_sequence FROM users u JOIN first ON u.application_id = first.app AND u.email_normalized = first.norm
         UNION ALL SELECT * FROM created
       )
       SELECT input.i, a.i IS NOT NULL AS active, f.i IS NOT NULL AS fresh, u.id AS user_id, u.last_sequence
       FROM input LEFT JOIN active a ON a.i = input.i LEFT JOIN first f ON f.i = input.i
       LEFT JOIN LATERAL (SELECT id, last_sequence FROM known WHERE known.application_id = input.app AND known.email_normalized = input.norm LIMIT 1) u ON f.i IS NOT NULL`,
      [JSON.stringify(input), AUTH_REPLAY_WINDOW_SECONDS],
    );
    const missing: PendingCheck[] = [];
    for (const row of r.rows) {
      const p = batch[row.i]!;
      if (!row.active) p.resolve({ ok: false, reason: 'revoked_key' });
      else if (!row.fresh) p.resolve({ ok: false, reason: 'replayed' });
      else if (row.user_id === null) missing.push(p);
      else p.resolve(success(p, row.user_id, row.last_sequence!));
    }
    // A user created by another process after this statement's snapshot was taken: visible now.
    for (const p of missing) {
      const u = await this.db.query<{ id: string; last_sequence: number }>('SELECT id, last_sequence FROM users WHERE application_id = $1 AND email_normalized = $2', [
        p.applicationId,
        p.emailNormalized,
      ]);
      const row = u.rows[0];
      if (row) p.resolve(success(p, row.id, row.last_sequence));
      else p.reject(new Error(`user ${p.emailNormalized} vanished`));
    }
  }
}

function success(p: PendingCheck, userId: string, latestSequence: number): AuthOutcome {
  return { ok: true, session: { userId, applicationId: p.applicationId, applicationName: p.applicationName, apiKey: p.apiKey, latestSequence } };
}

/** Forgets replay entries past their window; run periodically by one of the server's timers. */
export async function purgeExpiredReplays(db: Database): Promise<void> {
  await db.query('DELETE FROM auth_replays WHERE expires_at < now()');
}

/** Records that these keys were used; called now and then with the keys used since, not once per authentication. */
export async function touchKeys(db: Database, apiKeys: string[]): Promise<void> {
  if (apiKeys.length === 0) return;
  await db.query('UPDATE api_credentials SET last_used_at = now() WHERE api_key IN (SELECT jsonb_array_elements_text($1::jsonb))', [JSON.stringify(apiKeys)]);
}
