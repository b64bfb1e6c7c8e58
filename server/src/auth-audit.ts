import { API_KEY_PATTERN, type ClientMessageOf } from '@json-sync/core';
import type { AuthenticatedSession, AuthOutcome } from './auth.js';
import type { Logger } from './logger.js';

/** What an attempt said about itself; absent when its first frame was not a readable `authenticate`. */
type Attempt = ClientMessageOf<'authenticate'> | null;

/**
 * The audit log of authentication: one structured line per attempt (successes at info, refusals at
 * warn), with its outcome, the reason, the key id, email, application and remote address. Never
 * the secret or the signature. An address over the failure limit gets one line per window, not
 * one per attempt (`sync_auth_failures_total` still counts each).
 */
export class AuthAudit {
  constructor(private readonly log: Logger) {}

  succeeded(address: string, m: ClientMessageOf<'authenticate'>, session: AuthenticatedSession): void {
    this.log.info(
      { audit: 'authentication', outcome: 'success', reason: null, ...fields(address, m, session.applicationId, session.applicationName), userId: session.userId },
      'authentication succeeded',
    );
  }

  refused(address: string, m: Attempt, outcome: Extract<AuthOutcome, { ok: false }>, err?: Error): void {
    if (outcome.repeat) return;
    const line = {
      audit: 'authentication',
      outcome: 'refused',
      reason: outcome.reason,
      ...fields(address, m, outcome.applicationId ?? null, outcome.applicationName ?? null),
      userId: null,
      ...(outcome.reason === 'rate_limited' ? { windowSeconds: outcome.windowSeconds } : {}),
      ...(err ? { error: err.message } : {}),
    };
    this.log.warn(line, outcome.reason === 'rate_limited' ? 'authentication refused: address rate-limited (further refusals in this window are not logged)' : 'authentication refused');
  }

  /** An open session closed because its key was revoked meanwhile. */
  revoked(address: string, session: { apiKey: string; userId: string; applicationId: string }): void {
    this.log.warn({ audit: 'session', address, keyId: session.apiKey, userId: session.userId, applicationId: session.applicationId }, 'session closed: key revoked');
  }
}

function fields(address: string, m: Attempt, applicationId: string | null, application: string | null) {
  return {
    address,
    // Only what has the form of a key id is repeated: anything else might be a secret pasted in the wrong place.
    keyId: m && API_KEY_PATTERN.test(m.api_key) ? m.api_key : null,
    email: m?.email ?? null,
    clientId: m?.client_id ?? null,
    applicationId,
    application,
  };
}
