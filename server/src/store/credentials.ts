import { randomBytes } from 'node:crypto';
import { API_KEY_PATTERN, newUuid } from '@json-sync/core';
import type { Queryable } from '../db/database.js';

export interface GeneratedCredentials {
  applicationId: string;
  name: string;
  apiKey: string;
  secret: string;
}

export interface CredentialRow {
  api_key: string;
  name: string;
  application_id: string;
  active: boolean;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface KeyLookup {
  secret: string;
  application_id: string;
  application_name: string;
  active: boolean;
}

export const MAX_CREDENTIAL_NAME = 200;

/** A new application with its key pair. The secret is returned here once and never printed again. */
export async function generateCredentials(db: Queryable, name: string): Promise<GeneratedCredentials> {
  const applicationId = newUuid();
  const apiKey = `rpa_${randomBytes(32).toString('hex')}`;
  const secret = `rps_${randomBytes(32).toString('hex')}`;
  await db.query('INSERT INTO applications (id, name) VALUES ($1, $2)', [applicationId, name]);
  await db.query('INSERT INTO api_credentials (api_key, secret, application_id, name) VALUES ($1, $2, $3, $4)', [apiKey, secret, applicationId, name]);
  return { applicationId, name, apiKey, secret };
}

export async function listCredentials(db: Queryable): Promise<CredentialRow[]> {
  const r = await db.query<CredentialRow>(
    'SELECT api_key, name, application_id, active, created_at, last_used_at, revoked_at FROM api_credentials ORDER BY created_at, api_key',
  );
  return r.rows;
}

/** Returns false when no such key exists; revoking twice is not an error. */
export async function revokeCredentials(db: Queryable, apiKey: string): Promise<boolean> {
  const r = await db.query('UPDATE api_credentials SET active = false, revoked_at = COALESCE(revoked_at, now()) WHERE api_key = $1', [apiKey]);
  return r.rowCount > 0;
}

export async function countCredentials(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_credentials');
  return r.rows[0]!.n;
}

export async function lookupKey(db: Queryable, apiKey: string): Promise<KeyLookup | null> {
  if (!API_KEY_PATTERN.test(apiKey)) return null;
  const r = await db.query<KeyLookup>(
    'SELECT k.secret, k.application_id, a.name AS application_name, k.active FROM api_credentials k JOIN applications a ON a.id = k.application_id WHERE k.api_key = $1',
    [apiKey],
  );
  return r.rows[0] ?? null;
}

/** Of the given keys, those that are no longer active (revoked since their sessions opened). */
export async function inactiveKeys(db: Queryable, apiKeys: string[]): Promise<string[]> {
  if (apiKeys.length === 0) return [];
  const r = await db.query<{ api_key: string }>(
    'SELECT api_key FROM api_credentials WHERE NOT active AND api_key IN (SELECT jsonb_array_elements_text($1::jsonb))',
    [JSON.stringify(apiKeys)],
  );
  return r.rows.map((row) => row.api_key);
}
