/**
 * Operations only the test builds have (libsync_client_testing and the sanitized library, whose
 * bundle is built from ../host-testing.ts): never in the shipped library or its bundle, which
 * rt_product_has_no_test_ops checks. Generated into native/src/contract/test_ops.h.
 */
import { RECORDS } from './ops.js';
import type { Handlers, OpTable } from './types.js';

export const TEST_OPS = {
  test_process_exit: { doc: 'Calls process.exit(3) inside the runtime.', args: {}, result: 'nothing' },
  test_block: { doc: 'Keeps the runtime\'s thread busy for ms milliseconds (to provoke call timeouts).', args: { ms: 'u32' }, result: 'nothing' },
} as const satisfies OpTable;

export type TestOpHandlers = Handlers<typeof TEST_OPS, typeof RECORDS>;
