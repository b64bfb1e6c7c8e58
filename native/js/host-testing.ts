/**
 * The host of the library's test builds (libsync_client_testing, the sanitized library): the
 * product's host (host.ts) plus the operations of contract/test-ops.ts. Bundled on its own into
 * sync_engine_testing.js, so the shipped bundle never holds them.
 */
import type { TestOpHandlers } from './contract/test-ops.js';
import { start as startHost, type Bridge, type Dispatch, type HostOptions } from './host.js';

const testOps: TestOpHandlers = {
  test_process_exit() {
    process.exit(3);
  },
  test_block(_engine, { ms }) {
    const until = Date.now() + ms;
    while (Date.now() < until);
  },
};

export function start(bridge: Bridge, options: HostOptions): Dispatch {
  return startHost(bridge, options, testOps);
}
