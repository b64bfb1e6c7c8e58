/*
 * sync_client_compat.h — the first generation of libsync_client's names, as the original system
 * documented them. sync_client.h includes this header unless SYNC_NO_COMPAT is defined; define it
 * to check that code uses only the current API. The functions stay exported by the library, so
 * binaries built against the old header keep working.
 *
 * New code uses what each entry names instead. These keep their first signatures, which break the
 * rule of sync_client.h (a result code, results through out-parameters): some answer NULL or -1 on
 * failure, with sync_last_error_message() saying why.
 */
#ifndef SYNC_CLIENT_COMPAT_H
#define SYNC_CLIENT_COMPAT_H

#include "sync_client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- types --------------------------------------------------------------------------------- */

/** SyncEngineHandle. (`struct CSyncEngine` is its tag, in sync_client.h.) */
typedef struct CSyncEngine CSyncEngine;

/** SyncResult. (`enum CSyncResult` is its tag, in sync_client.h.) */
typedef enum CSyncResult CSyncResult;

/*
 * SYNC_RESULT_SUCCESS. In C the macro X11's <X11/X.h> defines, token for token: X.h included before
 * keeps its own, and X.h included after repeats it without complaint (an enumerator of another enum
 * would be -Wenum-compare against a SyncResult). In C++ a constant of the enum's type, so
 * `SyncResult r = Success;` compiles as it did when Success was an enumerator.
 */
#ifndef Success
#ifdef __cplusplus
static const SyncResult Success = SYNC_RESULT_SUCCESS;
#else
#define Success 0
#endif
#endif

/** SyncEngineConfig's option fields, for sync_engine_create_with_options(): use SyncEngineConfig and sync_engine_open(). */
typedef struct SyncEngineOptions {
    size_t struct_size;
    uint32_t reconnect_min_ms;
    uint32_t reconnect_max_ms;
    uint32_t heartbeat_interval_ms;
    uint32_t heartbeat_timeout_ms;
    uint32_t call_timeout_ms;
    uint32_t event_queue_limit;
    SyncDurability durability;
    const char *client_id;
    bool start_offline;
    const char *tls_ca_file;  /* as in SyncEngineConfig; added after the first version */
} SyncEngineOptions;

/* ---- functions ----------------------------------------------------------------------------- */

/**
 * sync_library_version(). The library's static string: sync_string_free() accepts it and does
 * nothing; do not write to it.
 */
SYNC_API char *sync_get_version(void);

/** sync_engine_open() with default options: NULL on failure. */
SYNC_API struct CSyncEngine *sync_engine_create(const char *db_url, const char *server_url, const char *email, const char *api_key,
                                                const char *api_secret);

/** Sets struct_size and every default of SyncEngineOptions. NULL is fine. */
SYNC_API void sync_engine_options_init(SyncEngineOptions *options);

/** sync_engine_open() with these options (NULL: defaults): NULL on failure. */
SYNC_API struct CSyncEngine *sync_engine_create_with_options(const char *db_url, const char *server_url, const char *email,
                                                             const char *api_key, const char *api_secret,
                                                             const SyncEngineOptions *options);

/** sync_engine_add_listener() without a listener handle: remove with sync_engine_unregister_event_callback(). */
SYNC_API enum CSyncResult sync_engine_register_event_callback(struct CSyncEngine *engine, SyncEventCallback callback, void *context,
                                                              int filter);

/** Removes every listener with this callback and context (SYNC_RESULT_NOT_FOUND if none): use sync_listener_remove(). */
SYNC_API enum CSyncResult sync_engine_unregister_event_callback(struct CSyncEngine *engine, SyncEventCallback callback, void *context);

/** sync_engine_get_event_fd(): the descriptor, or -1 on error. */
SYNC_API int sync_engine_event_fd(struct CSyncEngine *engine);

#ifdef __cplusplus
}
#endif

#endif /* SYNC_CLIENT_COMPAT_H */
