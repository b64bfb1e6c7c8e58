import { SyncError } from '../errors.js';

/** The SyncError a call throws or its promise rejects with; anything else (or success) fails the test. */
export async function refusal(fn: () => unknown): Promise<SyncError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof SyncError) return err;
    throw err;
  }
  throw new Error('did not fail');
}
