/*
 * sync_client.h — C API of libsync_client, the offline-first JSON document sync SDK.
 *
 * The engine is the TypeScript sync engine, running inside an embedded Node runtime (libnode) on
 * a thread of its own. Every call completes against the local SQLite database; no call waits for
 * the network. Reads (sync_engine_get_document, sync_engine_get_all_documents, the counts,
 * sync_engine_is_connected) never wait for the engine's thread either: they are answered on the
 * calling thread.
 *
 * ONE RULE. Every function returns a SyncResult and writes what it produces through out-parameters
 * (NULL-checked: a NULL out-parameter is SYNC_RESULT_INVALID_INPUT). The exceptions cannot fail:
 * sync_last_error_message() (the error channel itself), and the functions that free —
 * sync_engine_destroy(), sync_listener_remove(), sync_live_query_close(), sync_string_free(),
 * sync_bytes_free() — which accept NULL. Types
 * and enumerations are named Sync*, functions sync_*, constants SYNC_*.
 *
 * The original system's names (struct CSyncEngine, enum CSyncResult, Success, sync_engine_create,
 * sync_engine_register_event_callback, sync_get_version, sync_engine_event_fd, SyncEngineOptions,
 * ...) live in sync_client_compat.h, which this header includes unless SYNC_NO_COMPAT is defined:
 * existing code compiles unchanged, and the library keeps exporting them.
 *
 * THREADING CONTRACT
 * - Every function may be called from any thread, concurrently, with one exception: an engine
 *   must not be destroyed while another thread is still using it (or one of its listeners).
 * - Writes (create, create_documents, update, patch, merge, delete, undo, redo), the calls that
 *   wait (flush) and the attachment calls run on the engine's thread, in the order they arrive (a
 *   file being added and a save that downloads go on between the calls that come after them); a
 *   write returns once it is committed locally. Incoming server changes are applied between them in slices of about a
 *   millisecond, which end early as soon as a call waits: a write waits for the server change being
 *   applied — of this engine or of any other engine of the process, which share the thread — not
 *   for the ones queued behind it.
 * - Reads run on the calling thread, concurrently with each other and with the engine's work:
 *   sync_engine_get_document, sync_engine_get_all_documents and sync_engine_query (once it compiled
 *   the query text: see there) on read-only connections of their
 *   own to the database file (one consistent snapshot per call, holding every write that returned
 *   before the call began); sync_engine_count_documents, sync_engine_count_pending and
 *   sync_engine_is_connected from values the engine's thread publishes after each commit (before
 *   that commit's events are queued and before the write that made it returns) and with each
 *   connection event. So a read right after a write returned sees that write, and a callback for
 *   an event sees the state that event reports, or a later one.
 * - Event callbacks and live query callbacks run only inside sync_engine_process_events(), on the thread that called it
 *   (your UI thread: drive it from a JUCE/Qt/GTK timer, or when sync_engine_get_event_fd()'s fd becomes
 *   readable, or after the notify callback of sync_engine_set_event_notify() fired). A callback may
 *   call any sync_* function except sync_engine_destroy() on its own engine.
 * - The notify callback (sync_engine_set_event_notify) and the log callback run on the engine's
 *   internal thread: they must return quickly and must not call sync_* functions (post to your
 *   loop instead); such calls fail at once with SYNC_RESULT_NOT_INITIALIZED.
 * - Removing a listener (sync_listener_remove) from another thread waits until a running delivery has finished, so the callback's context may be freed
 *   right after. A callback may remove itself or any other listener; a removed callback is never
 *   called again, not even for the rest of the batch being delivered.
 * - One Node runtime serves every engine of the process. It starts with the first engine and stops
 *   at process exit; it never restarts. fork() after the first engine is opened is unsupported.
 * - Two more threads of the library's own, started on first need: one copies each engine's
 *   write-ahead log into its database file (a checkpoint: a copy and an fsync, which a write must
 *   never wait for), one stops a query past query_time_limit_ms. Neither runs any callback.
 *
 * MEMORY
 * - Strings passed in are copied; the caller keeps ownership.
 * - Strings returned through `char **out_*` belong to the caller and are freed with
 *   sync_string_free(), bytes returned through `void **out_*` with sync_bytes_free(). On failure
 *   *out_* is set to NULL.
 * - Strings returned through `const char **out_*` (sync_library_version) and
 *   sync_last_error_message()'s belong to the library: never free or write them.
 * - Strings inside SyncEventData live until the callback returns; copy what you keep.
 * - Listeners and live queries belong to their engine: valid until sync_listener_remove() /
 *   sync_live_query_close() or sync_engine_destroy().
 * - Every callback receives the `void *context` it was registered with, untouched.
 *
 * ERRORS
 * - SYNC_RESULT_SUCCESS (0) or an error code; on error sync_last_error_message() (per thread, never
 *   NULL, "" after a success) says why. NULL arguments, invalid JSON and invalid UTF-8 are refused
 *   with SYNC_RESULT_INVALID_INPUT; nothing crashes and nothing is written.
 * - SYNC_RESULT_TIMEOUT means "outcome unknown": the engine did not answer within the call timeout.
 *   Retrying sync_engine_create_document_with_id() with the same id and content is safe.
 */
#ifndef SYNC_CLIENT_H
#define SYNC_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#define SYNC_CLIENT_VERSION_MAJOR 0
#define SYNC_CLIENT_VERSION_MINOR 1
#define SYNC_CLIENT_VERSION_PATCH 0
#define SYNC_CLIENT_VERSION "0.1.0"

#if defined(_WIN32)
#  if defined(SYNC_CLIENT_BUILDING)
#    define SYNC_API __declspec(dllexport)
#  else
#    define SYNC_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define SYNC_API __attribute__((visibility("default")))
#else
#  define SYNC_API
#endif

/** Bytes of a document id buffer: a lowercase canonical UUID (36 characters) and its NUL. */
#define SYNC_DOCUMENT_ID_SIZE 37

/** The listener filter that accepts every event type. */
#define SYNC_EVENT_ALL (-1)

#ifdef __cplusplus
extern "C" {
#endif

/**
 * An engine: one local database file synchronised with one user's documents on a server. (The
 * struct's tag keeps the first version's name, CSyncEngine: C++ code naming the type keeps its
 * mangled names.)
 */
typedef struct CSyncEngine SyncEngineHandle;

/** One event callback registration of an engine (sync_engine_add_listener). */
typedef struct SyncListener SyncListener;

/**
 * Result codes. Values are fixed (checked against the TypeScript definitions by a test). The enum's
 * tag keeps the first version's name, CSyncResult, for the same reason as the handle's.
 */
typedef enum CSyncResult {
    SYNC_RESULT_SUCCESS = 0,
    SYNC_RESULT_INVALID_INPUT = 1,     /* NULL, malformed JSON, invalid UTF-8, not a UUID, bad patch, bad option */
    SYNC_RESULT_NOT_FOUND = 2,         /* no such document (or nothing to undo/redo, or no such registration) */
    SYNC_RESULT_CONFLICT = 3,          /* the id exists already, or undo met a later overlapping change */
    SYNC_RESULT_CONNECTION = 4,        /* the engine is offline (flush after sync_engine_set_online(engine, false)) */
    SYNC_RESULT_DATABASE = 5,          /* the local database failed (cannot be created, opened, written, or is of another schema version) */
    SYNC_RESULT_SERIALIZATION = 6,     /* a value could not be converted to or from JSON */
    SYNC_RESULT_TIMEOUT = 7,           /* no answer in time: outcome unknown */
    SYNC_RESULT_NOT_INITIALIZED = 8,   /* NULL engine, or the runtime is not running (a destroyed engine must not be used at all) */
    SYNC_RESULT_UNKNOWN = 9,
    SYNC_RESULT_LOCKED = 10,           /* open: another engine (in this process or another) holds the database file */
    SYNC_RESULT_INVALID_URL = 11,      /* open: server_url is not a ws:// or wss:// URL, or database_url names no file (":memory:" included) */
    SYNC_RESULT_INVALID_CREDENTIALS = 12, /* open: api_key or api_secret is not in the form the server issues (rpa_/rps_ + 64 hex digits) */
    SYNC_RESULT_RUNTIME_UNAVAILABLE = 13, /* open: the embedded runtime cannot run (a missing Debian package or engine file; the message names it) */
    SYNC_RESULT_WRONG_KEY = 14         /* open: the database is encrypted and encryption_key is missing or not its key (nothing was changed) */
} SyncResult;

/** Event types (values fixed, shared with the TypeScript engine's EventType). */
typedef enum SyncEventType {
    SYNC_EVENT_DOCUMENT_CREATED = 0,
    SYNC_EVENT_DOCUMENT_UPDATED = 1,
    SYNC_EVENT_DOCUMENT_DELETED = 2,
    SYNC_EVENT_SYNC_STARTED = 3,
    SYNC_EVENT_SYNC_COMPLETED = 4,       /* numeric_data: remote changes applied */
    SYNC_EVENT_SYNC_ERROR = 5,           /* error: the reason; numeric_data: events dropped on overflow */
    SYNC_EVENT_CONFLICT_DETECTED = 6,    /* content: the server's version; error: how it was resolved */
    SYNC_EVENT_CONNECTION_LOST = 7,
    SYNC_EVENT_CONNECTION_ATTEMPTED = 8, /* numeric_data: attempt number */
    SYNC_EVENT_CONNECTION_SUCCEEDED = 9,
    /* Attachments: document_id and title NULL; content: the attachment's reference as JSON text;
       boolean_data: true for an upload, false for a download. */
    SYNC_EVENT_ATTACHMENT_PROGRESS = 10,  /* numeric_data: bytes moved so far */
    SYNC_EVENT_ATTACHMENT_COMPLETED = 11, /* numeric_data: the attachment's length */
    SYNC_EVENT_ATTACHMENT_FAILED = 12     /* error: the reason */
} SyncEventType;

/** One event. Pointers are NULL when not applicable and live until the callback returns. */
typedef struct SyncEventData {
    SyncEventType event_type;
    const char *document_id;
    const char *title;
    const char *content;       /* the document's content as JSON text; NULL for DocumentDeleted */
    const char *error;
    unsigned long long numeric_data;
    bool boolean_data;         /* true when the change started in this engine */
} SyncEventData;

typedef void (*SyncEventCallback)(const SyncEventData *event, void *context);
typedef void (*SyncNotifyCallback)(void *context);

typedef enum SyncLogLevel {
    SYNC_LOG_DEBUG = 0,
    SYNC_LOG_INFO = 1,
    SYNC_LOG_WARN = 2,
    SYNC_LOG_ERROR = 3
} SyncLogLevel;
typedef void (*SyncLogCallback)(SyncLogLevel level, const char *message, void *context);

typedef enum SyncDurability {
    SYNC_DURABILITY_NORMAL = 0,  /* a returned change survives the process being killed, not power loss */
    SYNC_DURABILITY_FULL = 1     /* fsync on every commit */
} SyncDurability;

/**
 * Everything sync_engine_open() needs. Initialise with sync_engine_config_init(), then set the five
 * strings and change what you need: fields added in later versions keep their defaults, because
 * the library reads only `struct_size` bytes.
 */
typedef struct SyncEngineConfig {
    size_t struct_size;              /* sizeof(SyncEngineConfig) of the caller's header; set by sync_engine_config_init() */
    const char *database_url;        /* a file path, or sqlite:PATH?mode=rwc */
    const char *server_url;          /* ws://host:port/ws or wss://... */
    const char *email;               /* the user whose documents this engine holds */
    const char *api_key;             /* rpa_...: from `sync-server generate-credentials` */
    const char *api_secret;          /* rps_... */
    uint32_t reconnect_min_ms;       /* default 250 */
    uint32_t reconnect_max_ms;       /* default 30000 */
    uint32_t heartbeat_interval_ms;  /* default 15000 */
    uint32_t heartbeat_timeout_ms;   /* default 10000; no pong and no byte moving either way for this long after a ping drops the connection */
    uint32_t call_timeout_ms;        /* how long a call waits for the engine before SYNC_RESULT_TIMEOUT; default 10000 */
    uint32_t event_queue_limit;      /* events held before overflow (see sync_engine_process_events); default 10000 */
    SyncDurability durability;       /* default SYNC_DURABILITY_NORMAL */
    const char *client_id;           /* a lowercase UUID kept in the database on first open; NULL: generated */
    bool start_offline;              /* do not connect until sync_engine_set_online(engine, true) */
    /* Added after the first version (a caller built against that one passes a smaller struct_size): */
    const char *tls_ca_file;         /* a PEM file (or PEM text) of certificate authorities trusted for wss:// besides the
                                        system's; NULL: the system's only. A server certificate they do not verify is
                                        refused: SYNC_EVENT_CONNECTION_LOST with an error starting "TLS:". (The
                                        runtime reads no Node environment variables: NODE_EXTRA_CA_CERTS is ignored.) */
    uint32_t query_time_limit_ms;    /* a query on the calling thread running longer is stopped: SYNC_RESULT_TIMEOUT; default 2000 */
    /* Added with encryption at rest (older callers pass a struct_size ending before these: no key). */
    const uint8_t *encryption_key;   /* NULL: the database is not encrypted. Else 32 random bytes: the file (and its WAL)
                                        is encrypted with ChaCha20-Poly1305; a plain file is encrypted at open, crash-
                                        safely. A wrong or missing key: SYNC_RESULT_WRONG_KEY, nothing changed. The
                                        library copies the bytes; it keeps one copy while the engine is open (its reads
                                        open connections of their own) and zeroes every copy once it no longer needs it.
                                        The caller may zero its own as soon as sync_engine_open() returns. */
    size_t encryption_key_length;    /* 32 with a key, 0 without; any other length is SYNC_RESULT_INVALID_INPUT */
    /* Added with attachments (older callers pass a struct_size ending before these: the defaults). */
    bool attachment_fetch_eager;     /* false (default): an attachment's bytes are downloaded when asked for (fetch, save);
                                        true: every attachment a local document refers to, as soon as the document arrives */
    uint32_t attachment_cache_mib;   /* MiB of complete attachments kept; default 512. Beyond it, those no local document
                                        refers to and that are not waiting to upload are removed, least recently used first */
} SyncEngineConfig;

/* ---- library ------------------------------------------------------------------------------- */

/**
 * *out_version = "0.1.0", the library's version (equal to SYNC_CLIENT_VERSION of the header it was
 * built with). A static string the library owns: do not free or write it.
 */
SYNC_API SyncResult sync_library_version(const char **out_version);

/** Frees a string this library returned through a `char **`. NULL is fine. */
SYNC_API void sync_string_free(char *str);

/** Frees bytes this library returned through a `void **` (sync_engine_get_attachment). NULL is fine. */
SYNC_API void sync_bytes_free(void *bytes);

/** The calling thread's last error message; "" when none. Never NULL; owned by the library: never freed by the caller. */
SYNC_API const char *sync_last_error_message(void);

/**
 * Routes the library's log lines (engine and runtime) to `callback(level, message, context)`; NULL
 * restores silence. The callback runs on the engine's thread (see the threading contract).
 */
SYNC_API SyncResult sync_set_log_callback(SyncLogCallback callback, void *context);

/* ---- engines ------------------------------------------------------------------------------- */

/** Sets struct_size and every default; the five strings are NULL. SYNC_RESULT_INVALID_INPUT for NULL. */
SYNC_API SyncResult sync_engine_config_init(SyncEngineConfig *config);

/**
 * Opens (or creates) the local database and returns at once; connecting goes on in the background.
 * On success *out is the engine (free it with sync_engine_destroy()); on failure *out is NULL and the
 * code says why: SYNC_RESULT_LOCKED, SYNC_RESULT_INVALID_URL, SYNC_RESULT_INVALID_CREDENTIALS,
 * SYNC_RESULT_RUNTIME_UNAVAILABLE, SYNC_RESULT_DATABASE (also: a file of a schema version this
 * library does not read), SYNC_RESULT_WRONG_KEY (the file is encrypted and encryption_key is missing
 * or not its key), SYNC_RESULT_INVALID_INPUT (a NULL or non-UTF-8 string, a bad struct_size, option
 * or key length), SYNC_RESULT_TIMEOUT.
 */
SYNC_API SyncResult sync_engine_open(const SyncEngineConfig *config, SyncEngineHandle **out);

/**
 * Flushes what it can for a moment, closes the connection and the database, and frees the engine
 * with its listeners. Returns within about 1 s even with the server unreachable. NULL is fine.
 * Queued events are dropped.
 */
SYNC_API void sync_engine_destroy(SyncEngineHandle *engine);

/**
 * Re-encrypts the database with `key` (32 bytes), encrypts a plain one, or (key NULL, key_length 0)
 * decrypts it, in place. Crash-safe: killed midway, the file opens with the old key (or none) until
 * the rekey has committed, with the new key after — store the new key once this returns
 * SYNC_RESULT_SUCCESS. Takes about a second per 30 MB, during which other calls (reads included)
 * wait; it is not bound by call_timeout_ms. The library zeroes its copies of the old key.
 * SYNC_RESULT_INVALID_INPUT for another key length.
 */
SYNC_API SyncResult sync_engine_rekey(SyncEngineHandle *engine, const uint8_t *key, size_t key_length);

/* ---- documents ----------------------------------------------------------------------------- */

/**
 * Creates a document from a JSON object; writes its new id (36 characters + NUL) to out_id: a
 * time-ordered UUID (version 7), so ids made later sort later.
 */
SYNC_API SyncResult sync_engine_create_document(SyncEngineHandle *engine, const char *json, char out_id[SYNC_DOCUMENT_ID_SIZE]);

/**
 * Creates many documents in one transaction, far faster than one call each: `json_array` is a JSON
 * array of objects (the contents). All are written or, when any is refused, none (the code and
 * message say why). *out_ids_json gets their new ids as a JSON array of strings, in order; free it
 * with sync_string_free(). An empty array creates nothing and answers "[]". A very large batch may
 * need a longer call_timeout_ms: SYNC_RESULT_TIMEOUT says only that the outcome is unknown.
 */
SYNC_API SyncResult sync_engine_create_documents(SyncEngineHandle *engine, const char *json_array, char **out_ids_json);

/** Creates a document with a given lowercase UUID. Repeating the same id and content succeeds (safe retry after a timeout). */
SYNC_API SyncResult sync_engine_create_document_with_id(SyncEngineHandle *engine, const char *id, const char *json);

/** Full replacement: members missing from `json` are removed. */
SYNC_API SyncResult sync_engine_update_document(SyncEngineHandle *engine, const char *id, const char *json);

/** Applies an RFC 6902 JSON Patch (a JSON array of operations). */
SYNC_API SyncResult sync_engine_patch_document(SyncEngineHandle *engine, const char *id, const char *patch_json);

/** Applies an RFC 7386 JSON Merge Patch (a JSON object; null removes a member). */
SYNC_API SyncResult sync_engine_merge_document(SyncEngineHandle *engine, const char *id, const char *merge_json);

SYNC_API SyncResult sync_engine_delete_document(SyncEngineHandle *engine, const char *id);

/**
 * One document as JSON: {"id","title","content","sync_revision","pending","created_at","updated_at","deleted_at"}.
 * Deleted documents are found too (deleted_at set). Free *out_json with sync_string_free().
 */
SYNC_API SyncResult sync_engine_get_document(SyncEngineHandle *engine, const char *id, char **out_json);

/** Every live document, as a JSON array of the objects sync_engine_get_document() returns. */
SYNC_API SyncResult sync_engine_get_all_documents(SyncEngineHandle *engine, char **out_json);

/** Live (not deleted) documents. */
SYNC_API SyncResult sync_engine_count_documents(SyncEngineHandle *engine, uint64_t *out_count);

/** Local changes the server has not answered yet. */
SYNC_API SyncResult sync_engine_count_pending(SyncEngineHandle *engine, uint64_t *out_count);

SYNC_API SyncResult sync_engine_is_connected(SyncEngineHandle *engine, bool *out_connected);

/**
 * Waits up to timeout_ms until every local change is on the server and catch-up is done.
 * SYNC_RESULT_TIMEOUT when that did not happen in time (nothing is lost: syncing goes on);
 * SYNC_RESULT_CONNECTION at once when the engine was set offline.
 */
SYNC_API SyncResult sync_engine_flush(SyncEngineHandle *engine, uint32_t timeout_ms);

/** false: stop connecting (local calls keep working); true: connect again. */
SYNC_API SyncResult sync_engine_set_online(SyncEngineHandle *engine, bool online);

/** Reverts this engine's latest local change to the document (SYNC_RESULT_CONFLICT if a later change overlaps). */
SYNC_API SyncResult sync_engine_undo(SyncEngineHandle *engine, const char *id);

SYNC_API SyncResult sync_engine_redo(SyncEngineHandle *engine, const char *id);

/** The document's local and remote changes as a JSON array, oldest first. */
SYNC_API SyncResult sync_engine_get_history(SyncEngineHandle *engine, const char *id, char **out_json);

/**
 * Local changes that lost to the server or were rejected, as a JSON array of
 * {"document_id","mutation_id","kind","reason","message","rejected","server_document","created_at"}.
 */
SYNC_API SyncResult sync_engine_get_conflicts(SyncEngineHandle *engine, char **out_json);

/* ---- queries (docs/queries.md) ------------------------------------------------------------- */

/**
 * A query is a JSON object (docs/queries.md): {"where": {...}, "sort": [...], "limit": n, "after":
 * cursor, "fields": [...], "count": true, "search": "words"}. Errors name the offending part of it
 * ("where.priority.$inn: unknown operator") with SYNC_RESULT_INVALID_INPUT.
 */

/** A live query of an engine (sync_engine_watch_query). */
typedef struct SyncLiveQuery SyncLiveQuery;

/**
 * A live query's change, as JSON text: {"added": [{"index", "document"}], "removed": [ids],
 * "changed": [documents], "moved": [{"id", "index"}], "total"?}. Applied in that order to the
 * previous result it gives the new one; the first call holds the whole result as `added`.
 * `diff_json` lives until the callback returns.
 */
typedef void (*SyncQueryCallback)(const char *diff_json, void *context);

/** sync_engine_watch_query flag: every diff also holds `total`, the number of all matches past the page. */
#define SYNC_WATCH_TOTAL 1u

/**
 * Answers a query from the local database, on the calling thread (like sync_engine_get_document,
 * and seeing every write that returned before it): {"documents": [objects as get_document returns
 * them], "next": cursor or null} or, with "count": true, {"count": n}. Free *out_json with
 * sync_string_free(). The first run of a query text asks the engine's thread to compile it (and a
 * query using $regex runs there); later runs do not. SYNC_RESULT_TIMEOUT when it ran longer than
 * the config's query_time_limit_ms.
 */
SYNC_API SyncResult sync_engine_query(SyncEngineHandle *engine, const char *query_json, char **out_json);

/** How a query runs, as JSON: {"sql", "index" (null: a scan), "plan": [SQLite's plan lines]}. */
SYNC_API SyncResult sync_engine_explain_query(SyncEngineHandle *engine, const char *query_json, char **out_json);

/**
 * Declares an index from {"name", "fields": [dotted paths], "unique"?: bool}, built over the
 * documents there are and kept with every write. A unique index refuses a local change repeating
 * a key: SYNC_RESULT_CONFLICT. An index of that name and spec exists already: success.
 */
SYNC_API SyncResult sync_engine_create_index(SyncEngineHandle *engine, const char *spec_json);

/** Declares a full-text index from {"name", "fields"}: the `search` of queries reads it. */
SYNC_API SyncResult sync_engine_create_text_index(SyncEngineHandle *engine, const char *spec_json);

/** Drops an index; SYNC_RESULT_NOT_FOUND when there is none of that name. */
SYNC_API SyncResult sync_engine_drop_index(SyncEngineHandle *engine, const char *name);

/** The indexes, as a JSON array of {"name", "kind": "value"|"text", "fields", "unique"}. */
SYNC_API SyncResult sync_engine_list_indexes(SyncEngineHandle *engine, char **out_json);

/**
 * Opens a live query: `callback(diff_json, context)` gets the first result, then after each commit
 * that changes the result (local or remote, one call per commit) what changed — inside
 * sync_engine_process_events() only, like the listeners. `flags`: 0 or SYNC_WATCH_TOTAL. *out gets
 * the live query; close it with sync_live_query_close() (or it closes with its engine). A live
 * query's diffs are never dropped or merged when the event queue is full: each builds on the one
 * before.
 */
SYNC_API SyncResult sync_engine_watch_query(SyncEngineHandle *engine, const char *query_json, uint32_t flags, SyncQueryCallback callback,
                                            void *context, SyncLiveQuery **out);

/**
 * Closes a live query: once this returns its callback is not running (unless this is called from
 * that very callback) and will not be called again; `query` is freed. NULL is fine.
 */
SYNC_API void sync_live_query_close(SyncLiveQuery *query);

/* ---- attachments (docs/protocol.md, "Attachments") ------------------------------------------ */

/**
 * Binary assets beside the documents. A document refers to one by value, anywhere in its content,
 * with its reference: {"$attachment": "sha256-<64 hex>", "length": n, "content_type": "..."} — the
 * JSON text the add functions answer, to put into a document as it is. The attachment id is the
 * "sha256-..." string: the SHA-256 of the bytes, so the same bytes are the same attachment, and
 * adding them again is harmless. Attachments are immutable: to change one, add the new bytes and
 * update the reference.
 *
 * Adding stores the bytes in the local database and queues them for upload, which goes on in the
 * background (resumed after a lost connection or a restart); other devices of the user fetch them
 * when they need them. Progress, completion and failure of uploads and downloads arrive as
 * SYNC_EVENT_ATTACHMENT_* events through sync_engine_process_events().
 *
 * The calls that move an attachment's bytes (add, add_file, get, save) take time growing with its
 * size, and a save with the network: they are not bound by call_timeout_ms but wait up to an hour
 * (SYNC_RESULT_TIMEOUT then, outcome unknown: repeating the call is safe). They block the calling
 * thread only: the engine keeps syncing and queueing events meanwhile. Paths are UTF-8.
 */

/**
 * Adds `length` bytes (NULL with 0: an empty attachment) of type `content_type` (NULL:
 * "application/octet-stream"; else a MIME type of at most 255 characters, else
 * SYNC_RESULT_INVALID_INPUT). *out_reference gets its reference as JSON text; free it with
 * sync_string_free(). The bytes are copied: the caller may free them as soon as this returns.
 */
SYNC_API SyncResult sync_engine_add_attachment(SyncEngineHandle *engine, const void *bytes, size_t length, const char *content_type,
                                               char **out_reference);

/**
 * Adds the contents of the file at `path`, like sync_engine_add_attachment(). The engine's thread
 * streams the file into the database (it never holds it whole in memory, and keeps delivering
 * events and answering other calls meanwhile); this call blocks the calling thread until it is
 * stored. A file that cannot be read (missing, a directory, not permitted): SYNC_RESULT_INVALID_INPUT,
 * with the system's reason in the message.
 */
SYNC_API SyncResult sync_engine_add_attachment_file(SyncEngineHandle *engine, const char *path, const char *content_type,
                                                    char **out_reference);

/**
 * The attachment's bytes from the local database only (never the network): *out_bytes gets a copy
 * (never NULL on success, even for 0 bytes; free it with sync_bytes_free()) and *out_length its
 * length. SYNC_RESULT_NOT_FOUND when they are not here (yet): fetch them with
 * sync_engine_fetch_attachment() or sync_engine_save_attachment(). On failure *out_bytes is NULL
 * and *out_length 0.
 */
SYNC_API SyncResult sync_engine_get_attachment(SyncEngineHandle *engine, const char *attachment_id, void **out_bytes, size_t *out_length);

/**
 * Writes the attachment's bytes to the file at `path` (created or replaced), downloading them first
 * when they are not local — a download checked against the id before any byte is kept (and kept
 * locally). Streams: a large attachment is never held whole in memory. SYNC_RESULT_CONNECTION when
 * they must be fetched and the engine is not connected (offline, or still connecting); SYNC_RESULT_NOT_FOUND when the server has no such attachment for this
 * user (one of the user's devices must have uploaded it); SYNC_RESULT_INVALID_INPUT when the path
 * cannot be written. The file appears whole or not at all (written beside it, then renamed).
 */
SYNC_API SyncResult sync_engine_save_attachment(SyncEngineHandle *engine, const char *attachment_id, const char *path);

/**
 * Starts downloading the attachment into the local database and returns at once. Then, through
 * sync_engine_process_events(): SYNC_EVENT_ATTACHMENT_PROGRESS events (boolean_data false), then
 * one SYNC_EVENT_ATTACHMENT_COMPLETED (sync_engine_get_attachment() has the bytes from then on) or
 * SYNC_EVENT_ATTACHMENT_FAILED (error says why: no device of the user uploaded it, the connection
 * dropped — the bytes received are kept, and the next fetch goes on from them). Every successful
 * call gets its outcome event, also when the bytes were here already (COMPLETED at once). When the
 * engine is not connected (offline, or still connecting) nothing starts: SYNC_RESULT_CONNECTION.
 */
SYNC_API SyncResult sync_engine_fetch_attachment(SyncEngineHandle *engine, const char *attachment_id);

/**
 * What this engine knows of the attachment, as JSON text {"local": bool (the bytes are here),
 * "received": bytes of an unfinished download, "length": n, "uploaded": bool (the server has
 * confirmed them)}; free it with sync_string_free(). SYNC_RESULT_NOT_FOUND when nothing.
 */
SYNC_API SyncResult sync_engine_attachment_state(SyncEngineHandle *engine, const char *attachment_id, char **out_json);

/** Attachments added here that the server has not confirmed yet (queued or uploading). */
SYNC_API SyncResult sync_engine_count_pending_attachments(SyncEngineHandle *engine, uint64_t *out_count);

/* ---- events -------------------------------------------------------------------------------- */

/**
 * Calls `callback(event, context)` for every event of type `filter` (a SyncEventType, or
 * SYNC_EVENT_ALL), inside sync_engine_process_events() only, until the listener is removed or the
 * engine destroyed. *out (NULL if you never remove it) gets the listener.
 */
SYNC_API SyncResult sync_engine_add_listener(SyncEngineHandle *engine, int filter, SyncEventCallback callback, void *context,
                                              SyncListener **out);

/**
 * Removes a listener of a live engine. Once this returns its callback is not running (unless this
 * is called from that very callback) and will not be called again; `listener` is freed. NULL is fine.
 */
SYNC_API void sync_listener_remove(SyncListener *listener);

/**
 * Delivers queued events to the callbacks, on the calling thread; *processed (may be NULL) gets the
 * count. The queue holds at most event_queue_limit events: when full, a DocumentUpdated replaces
 * the queued update of the same document, an ATTACHMENT_PROGRESS the queued progress of the same
 * transfer; otherwise the oldest event is dropped, and the next
 * delivery starts with one SYNC_EVENT_SYNC_ERROR whose numeric_data is the number dropped.
 */
SYNC_API SyncResult sync_engine_process_events(SyncEngineHandle *engine, uint32_t *processed);

/**
 * `notify(context)` is called from the engine's thread when events become ready — once, until the
 * next sync_engine_process_events(). Use it to wake your loop. When events already wait at the
 * moment it is set, it is called right away, on the calling thread. NULL removes it; once this
 * returns, the old notify is not running and will not be called again.
 */
SYNC_API SyncResult sync_engine_set_event_notify(SyncEngineHandle *engine, SyncNotifyCallback notify, void *context);

/**
 * *out_fd = a file descriptor that is readable while events wait (for g_unix_fd_add, QSocketNotifier,
 * select/poll). Owned by the engine: do not read or close it. On failure *out_fd is -1.
 */
SYNC_API SyncResult sync_engine_get_event_fd(SyncEngineHandle *engine, int *out_fd);

#ifdef __cplusplus
}
#endif

#ifndef SYNC_NO_COMPAT
#include "sync_client_compat.h"
#endif

#endif /* SYNC_CLIENT_H */
