// Exported for the library's own tests only; not part of the public API.
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
