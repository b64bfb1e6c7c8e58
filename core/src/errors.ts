/** Error codes a server sends in `error.code`; clients surface the same strings. */
export const ERROR_CODES = [
  'invalid_message',
  'invalid_patch',
  'document_not_found',
  'document_exists',
  'message_too_large',
  'rate_limited',
  'cursor_expired',
  'server_error',
  // query_documents: the query breaks a rule of the language (the message names the part), or ran past the time limit.
  'invalid_query',
  'query_timeout',
  // Attachments (request_id names the request): no attachment of that id that this user may read;
  // larger than max_attachment_bytes; over the user's attachment_quota_bytes; the bytes' SHA-256 is
  // not the id (nothing kept); a binary frame out of place (wrong offset, past the length, no upload open).
  'attachment_not_found',
  'attachment_too_large',
  'attachment_quota_exceeded',
  'attachment_digest_mismatch',
  'invalid_chunk',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Reasons a server sends in `auth_error.reason`. */
export const AUTH_ERROR_REASONS = [
  'malformed',
  'unknown_key',
  'revoked_key',
  'bad_signature',
  'timestamp_skew',
  'replayed',
  'rate_limited',
  'unsupported_protocol',
  // The server could not check the credentials right now (its database is down): retry later.
  'unavailable',
] as const;
export type AuthErrorReason = (typeof AUTH_ERROR_REASONS)[number];

/**
 * Raised by the core helpers when input breaks a protocol rule. `code` is one of the protocol's
 * error codes, so a server can answer with it unchanged.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
