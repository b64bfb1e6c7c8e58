// Exported by the library's test builds only (sync_client_testing, sync_client_asan); not part of
// the public API, and absent from the shipped libsync_client.
#pragma once

#include "sync_client.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Calls process.exit(3) inside the engine's runtime (the test op test_process_exit). */
SYNC_API SyncResult sync_client_test_process_exit(SyncEngineHandle *engine);

/** Keeps the engine's runtime thread busy for `ms` milliseconds (the test op test_block). */
SYNC_API SyncResult sync_client_test_block(SyncEngineHandle *engine, uint32_t ms);

/**
 * Where the reads' SQLite lives, as JSON: "used" (the address of the sqlite3_libversion they call),
 * "used_in" and "used_base" (the object holding it), "module" and "module_base" (the runtime's
 * better_sqlite3.node), "definitions" (how many distinct sqlite3_libversion the loaded objects
 * reach), "version". Free with sync_string_free().
 */
SYNC_API SyncResult sync_client_test_sqlite_origin(char **out_json);

/** Opens one more read connection on the engine's file, reads every document through it, and closes it. */
SYNC_API SyncResult sync_client_test_read_once(SyncEngineHandle *engine);

#ifdef __cplusplus
}
#endif
