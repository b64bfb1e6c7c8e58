/**
 * Error codes of the engine's API. The C SDK maps each to a `CSyncResult` value, so they are
 * defined once here and checked against the header by a test.
 */
export const ENGINE_ERROR_CODES = [
  'invalid_input',
  'not_found',
  'conflict',
  'connection',
  'database',
  'serialization',
  'timeout',
  'closed',
  'locked',
  /** The database is encrypted and the key is missing or does not open it. */
  'wrong_key',
] as const;
export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[number];

export class SyncError extends Error {
  override readonly name = 'SyncError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message);
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}
