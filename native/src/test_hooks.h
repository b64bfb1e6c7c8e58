// Exported by the library's test builds only (sync_client_testing, sync_client_asan); not part of
// the public API, and absent from the shipped libsync_client.
#pragma once

#include "sync_client.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Runs a test-only engine operation ("test_process_exit", "test_block" with milliseconds in arg). */
SYNC_API enum CSyncResult sync_client_test_call(struct CSyncEngine *engine, const char *op, const char *arg);

#ifdef __cplusplus
}
#endif
