import { ENGINE_ERROR_CODES, type EngineErrorCode } from '../../client-ts/src/errors.js';

/**
 * SyncResult of sync_client.h, defined here once; a test checks the header against it
 * (and SyncEventType against the engine's EventType).
 */
export const RESULT_CODES = {
  SUCCESS: 0,
  INVALID_INPUT: 1,
  NOT_FOUND: 2,
  CONFLICT: 3,
  CONNECTION: 4,
  DATABASE: 5,
  SERIALIZATION: 6,
  TIMEOUT: 7,
  NOT_INITIALIZED: 8,
  UNKNOWN: 9,
  LOCKED: 10,
  INVALID_URL: 11,
  INVALID_CREDENTIALS: 12,
  RUNTIME_UNAVAILABLE: 13,
  WRONG_KEY: 14,
} as const;
export type ResultCode = (typeof RESULT_CODES)[keyof typeof RESULT_CODES];

const BY_ENGINE_CODE: Record<EngineErrorCode, ResultCode> = {
  invalid_input: RESULT_CODES.INVALID_INPUT,
  not_found: RESULT_CODES.NOT_FOUND,
  conflict: RESULT_CODES.CONFLICT,
  connection: RESULT_CODES.CONNECTION,
  database: RESULT_CODES.DATABASE,
  serialization: RESULT_CODES.SERIALIZATION,
  timeout: RESULT_CODES.TIMEOUT,
  closed: RESULT_CODES.NOT_INITIALIZED,
  locked: RESULT_CODES.LOCKED,
  wrong_key: RESULT_CODES.WRONG_KEY,
};

export function resultCodeOf(code: string): ResultCode {
  return (ENGINE_ERROR_CODES as readonly string[]).includes(code) ? BY_ENGINE_CODE[code as EngineErrorCode] : RESULT_CODES.UNKNOWN;
}
