/* Bad input on every C function: NULL engine, NULL strings and out pointers, invalid JSON, JSON that
 * is not an object, invalid UTF-8 (overlong, lone continuation byte, encoded surrogate, truncated
 * sequence), non-UUID ids and unknown ids. Each call runs on a fresh thread (whose last error is ""),
 * must return its code and leave a non-empty sync_last_error_message(), and must write nothing.
 * sync_engine_create_documents refuses a batch with one bad element whole. Also: the last error is
 * per thread; NULL-safe destroy/free/remove; sync_engine_create and
 * sync_engine_open refusing their arguments (open with the code of each reason) and a database file
 * another engine holds, in this process or another. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- the engine under test and the values the cases use ------------------------------------- */

static TestEnv env;
static SyncEngineHandle *E;   /* offline engine holding one document */
static char DOC[37];            /* an existing document of E */
static const char *UNKNOWN = "0b7d3c1e-5f2a-4d8b-9c6e-1a2b3c4d5e6f"; /* a valid UUID no document has */
static char out_id[37];
static char *out_json;
static uint64_t out_count;
static bool out_flag;
static SyncListener *out_listener;

static void noop_event(const SyncEventData *e, void *context) {
  (void)e;
  (void)context;
}
static void noop_notify(void *context) { (void)context; }

/* Invalid UTF-8 samples, each inside an otherwise valid JSON string. */
#define OVERLONG "\xC0\xAF"              /* '/' encoded in two bytes */
#define LONE_CONT "\x80"                 /* a continuation byte with no lead */
#define SURROGATE "\xED\xA0\x80"         /* U+D800 encoded directly */
#define TRUNCATED "\xE2\x82"             /* the first two bytes of '€' */
#define OVERLONG3 "\xE0\x80\xAF"         /* '/' in three bytes */
#define TOO_BIG "\xF4\x90\x80\x80"       /* U+110000 */

/* Results of pointer- or int-returning functions are mapped onto these. */
enum { RETURNED_NULL = 100, RETURNED_ENGINE = 101, RETURNED_MINUS_ONE = 102, RETURNED_FD = 103, OUT_NOT_CLEARED = 104 };

static int created_engine(SyncEngineHandle *e) {
  if (!e) return RETURNED_NULL;
  sync_engine_destroy(e);
  return RETURNED_ENGINE;
}

static int create_with_options_case(int which) {
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.start_offline = true;
  switch (which) {
    case 0: o.struct_size = 0; break;
    case 1: o.struct_size = sizeof o + 64; break;
    case 2: o.call_timeout_ms = 0; break;
    case 3: o.event_queue_limit = 0; break;
    case 4: o.client_id = "not-a-uuid"; break;
    case 5: o.client_id = "0B7D3C1E-5F2A-4D8B-9C6E-1A2B3C4D5E6F"; break;
    case 6: o.client_id = "0b7d3c1e-5f2a-4d8b-9c6e-1a2b3c4d5e6" LONE_CONT; break;
    case 7: o.reconnect_min_ms = 0; break;
    case 8: o.reconnect_min_ms = 5000; o.reconnect_max_ms = 1000; break;
    case 9: o.heartbeat_interval_ms = 0; break;
    case 10: o.durability = (SyncDurability)7; break;
    case 11: o.tls_ca_file = "/nonexistent-dir-for-sync-tests/ca.pem"; break;
  }
  return created_engine(sync_engine_create_with_options(test_db_path("opts"), env.server_url, "bad-opts@example.com", env.api_key, env.api_secret, &o));
}

/* sync_engine_open with one thing wrong in an otherwise good offline config; a refused open must set *out to NULL. */
static int open_case(int which) {
  SyncEngineConfig c;
  test_config(&c, &env, "open-refused", "bad-open@example.com");
  c.start_offline = true;
  switch (which) {
    case 0: return sync_engine_open(NULL, &(SyncEngineHandle *){NULL});
    case 1: return sync_engine_open(&c, NULL);
    case 2: c.struct_size = 0; break;
    case 3: c.struct_size = sizeof c + 8; break;
    case 4: sync_engine_config_init(&c); break; /* the five strings NULL */
    case 5: c.server_url = "http://127.0.0.1:1/ws"; break;
    case 6: c.server_url = "not a url"; break;
    case 7: c.database_url = "sqlite:?mode=rwc"; break;
    case 8: c.api_key = "rpa_your_api_key_here"; break;
    case 9: c.api_secret = "rps_your_secret_here"; break;
    case 10: c.database_url = test_db_path("bad"); break; /* E holds it */
    case 11: c.database_url = "/nonexistent-dir-for-sync-tests/x/y.db"; break;
    case 12: c.call_timeout_ms = 0; break;
    case 13: c.reconnect_min_ms = 5000; c.reconnect_max_ms = 1000; break;
    case 14: c.client_id = "not-a-uuid"; break;
    case 15: c.email = "bad" OVERLONG "@example.com"; break;
    case 16: c.durability = (SyncDurability)7; break;
    case 17: c.database_url = ":memory:"; break;
    case 18: c.tls_ca_file = "/tmp/ca" LONE_CONT ".pem"; break;
    case 19: c.tls_ca_file = "/nonexistent-dir-for-sync-tests/ca.pem"; break;
    case 20: c.tls_ca_file = ""; break;
  }
  SyncEngineHandle *engine = (SyncEngineHandle *)&c; /* any non-NULL value */
  SyncResult r = sync_engine_open(&c, &engine);
  if (r == SYNC_RESULT_SUCCESS) sync_engine_destroy(engine);
  else if (engine != NULL) return OUT_NOT_CLEARED;
  return r;
}

/* sync_engine_get_event_fd into a sentinel (or NULL): a refused call leaves -1 there. */
static int event_fd_case(SyncEngineHandle *engine, bool with_out) {
  int fd = 12345;
  SyncResult r = sync_engine_get_event_fd(engine, with_out ? &fd : NULL);
  if (with_out && r != SYNC_RESULT_SUCCESS && fd != -1) return OUT_NOT_CLEARED;
  return r;
}

/* ---- the cases ------------------------------------------------------------------------------ */

typedef struct Case {
  const char *name;
  int expected;
} Case;

/* Each case is one call; `run_case` switches on its index. */
static const Case cases[] = {
    /* 0: NULL engine → NOT_INITIALIZED */
    {"create_document(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"create_document_with_id(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"update_document(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"patch_document(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"merge_document(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"delete_document(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"get_document(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"get_all_documents(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"count_documents(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"count_pending(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"is_connected(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"flush(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"set_online(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"undo(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"redo(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"get_history(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"get_conflicts(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"register_event_callback(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"unregister_event_callback(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"process_events(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"set_event_notify(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"event_fd(NULL engine) → -1", RETURNED_MINUS_ONE},
    /* 22: NULL strings and out pointers → INVALID_INPUT */
    {"create_document(json NULL)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(out_id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(json NULL)", SYNC_RESULT_INVALID_INPUT},
    {"update_document(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"update_document(json NULL)", SYNC_RESULT_INVALID_INPUT},
    {"patch_document(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"patch_document(patch NULL)", SYNC_RESULT_INVALID_INPUT},
    {"merge_document(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"merge_document(merge NULL)", SYNC_RESULT_INVALID_INPUT},
    {"delete_document(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"get_document(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"get_document(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"get_all_documents(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"count_documents(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"count_pending(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"is_connected(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"undo(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"redo(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"get_history(id NULL)", SYNC_RESULT_INVALID_INPUT},
    {"get_history(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"get_conflicts(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"register_event_callback(callback NULL)", SYNC_RESULT_INVALID_INPUT},
    {"register_event_callback(filter -2)", SYNC_RESULT_INVALID_INPUT},
    {"register_event_callback(filter 13)", SYNC_RESULT_INVALID_INPUT},
    {"unregister_event_callback(callback NULL)", SYNC_RESULT_INVALID_INPUT},
    {"unregister_event_callback(never registered)", SYNC_RESULT_NOT_FOUND},
    /* 49: invalid JSON → INVALID_INPUT */
    {"create_document(\"{\")", SYNC_RESULT_INVALID_INPUT},
    {"create_document(\"\")", SYNC_RESULT_INVALID_INPUT},
    {"create_document(\"{\\\"a\\\":}\")", SYNC_RESULT_INVALID_INPUT},
    {"create_document(\"{} trailing\")", SYNC_RESULT_INVALID_INPUT},
    {"create_document(\"{'a':1}\")", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(invalid JSON)", SYNC_RESULT_INVALID_INPUT},
    {"update_document(invalid JSON)", SYNC_RESULT_INVALID_INPUT},
    {"patch_document(invalid JSON)", SYNC_RESULT_INVALID_INPUT},
    {"merge_document(invalid JSON)", SYNC_RESULT_INVALID_INPUT},
    /* 58: JSON that is not an object where one is required → INVALID_INPUT */
    {"create_document([])", SYNC_RESULT_INVALID_INPUT},
    {"create_document(42)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(null)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(\"text\")", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(true)", SYNC_RESULT_INVALID_INPUT},
    {"update_document([1,2])", SYNC_RESULT_INVALID_INPUT},
    {"update_document(null)", SYNC_RESULT_INVALID_INPUT},
    {"merge_document([1])", SYNC_RESULT_INVALID_INPUT},
    {"merge_document(7)", SYNC_RESULT_INVALID_INPUT},
    {"patch_document({} instead of an array)", SYNC_RESULT_INVALID_INPUT},
    {"patch_document(unknown op)", SYNC_RESULT_INVALID_INPUT},
    {"patch_document(remove a missing path)", SYNC_RESULT_INVALID_INPUT},
    {"patch_document(failing test op)", SYNC_RESULT_INVALID_INPUT},
    /* 71: invalid UTF-8 → INVALID_INPUT */
    {"create_document(overlong)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(lone continuation byte)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(surrogate)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(truncated sequence)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(3-byte overlong)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(above U+10FFFF)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(invalid UTF-8 in a key)", SYNC_RESULT_INVALID_INPUT},
    {"create_document(truncated at the end)", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(surrogate in json)", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(invalid UTF-8 in id)", SYNC_RESULT_INVALID_INPUT},
    {"update_document(overlong in json)", SYNC_RESULT_INVALID_INPUT},
    {"patch_document(lone continuation in patch)", SYNC_RESULT_INVALID_INPUT},
    {"merge_document(truncated in merge)", SYNC_RESULT_INVALID_INPUT},
    {"get_document(invalid UTF-8 id)", SYNC_RESULT_INVALID_INPUT},
    {"delete_document(invalid UTF-8 id)", SYNC_RESULT_INVALID_INPUT},
    {"update_document(invalid UTF-8 id)", SYNC_RESULT_INVALID_INPUT},
    {"undo(invalid UTF-8 id)", SYNC_RESULT_INVALID_INPUT},
    {"get_history(invalid UTF-8 id)", SYNC_RESULT_INVALID_INPUT},
    /* 89: ids that are not UUIDs → INVALID_INPUT ("not a UUID", sync_client.h) */
    {"create_document_with_id(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(uppercase UUID)", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(\"\")", SYNC_RESULT_INVALID_INPUT},
    {"create_document_with_id(misplaced hyphens)", SYNC_RESULT_INVALID_INPUT},
    {"update_document(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"patch_document(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"merge_document(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"delete_document(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"get_document(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"undo(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"redo(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"get_history(\"not-a-uuid\")", SYNC_RESULT_INVALID_INPUT},
    {"get_document(\"\")", SYNC_RESULT_INVALID_INPUT},
    /* 102: unknown ids → NOT_FOUND */
    {"update_document(unknown id)", SYNC_RESULT_NOT_FOUND},
    {"patch_document(unknown id)", SYNC_RESULT_NOT_FOUND},
    {"merge_document(unknown id)", SYNC_RESULT_NOT_FOUND},
    {"delete_document(unknown id)", SYNC_RESULT_NOT_FOUND},
    {"get_document(unknown id)", SYNC_RESULT_NOT_FOUND},
    {"undo(unknown id)", SYNC_RESULT_NOT_FOUND},
    {"redo(unknown id)", SYNC_RESULT_NOT_FOUND},
    {"get_history(unknown id)", SYNC_RESULT_NOT_FOUND},
    /* 110: sync_engine_create / _with_options refusing their arguments → NULL */
    {"create(db_url NULL)", RETURNED_NULL},
    {"create(server_url NULL)", RETURNED_NULL},
    {"create(email NULL)", RETURNED_NULL},
    {"create(api_key NULL)", RETURNED_NULL},
    {"create(api_secret NULL)", RETURNED_NULL},
    {"create(db_url \"\")", RETURNED_NULL},
    {"create(db_url \"sqlite:\")", RETURNED_NULL},
    {"create(email with invalid UTF-8)", RETURNED_NULL},
    {"create(server_url with invalid UTF-8)", RETURNED_NULL},
    {"create(email \"\")", RETURNED_NULL},
    {"create(db in a directory that does not exist)", RETURNED_NULL},
    {"create_with_options(struct_size 0)", RETURNED_NULL},
    {"create_with_options(struct_size too big)", RETURNED_NULL},
    {"create_with_options(call_timeout_ms 0)", RETURNED_NULL},
    {"create_with_options(event_queue_limit 0)", RETURNED_NULL},
    {"create_with_options(client_id not a UUID)", RETURNED_NULL},
    {"create_with_options(client_id uppercase)", RETURNED_NULL},
    {"create_with_options(client_id invalid UTF-8)", RETURNED_NULL},
    {"create_with_options(reconnect_min_ms 0)", RETURNED_NULL},
    {"create_with_options(reconnect min > max)", RETURNED_NULL},
    {"create_with_options(heartbeat_interval_ms 0)", RETURNED_NULL},
    {"create_with_options(durability 7)", RETURNED_NULL},
    /* 132: sync_engine_open: each refusal with its own code */
    {"open(config NULL)", SYNC_RESULT_INVALID_INPUT},
    {"open(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"open(struct_size 0)", SYNC_RESULT_INVALID_INPUT},
    {"open(struct_size too big)", SYNC_RESULT_INVALID_INPUT},
    {"open(the five strings NULL)", SYNC_RESULT_INVALID_INPUT},
    {"open(server_url http://)", SYNC_RESULT_INVALID_URL},
    {"open(server_url not a URL)", SYNC_RESULT_INVALID_URL},
    {"open(database_url names no file)", SYNC_RESULT_INVALID_URL},
    {"open(api_key malformed)", SYNC_RESULT_INVALID_CREDENTIALS},
    {"open(api_secret malformed)", SYNC_RESULT_INVALID_CREDENTIALS},
    {"open(database held by another engine)", SYNC_RESULT_LOCKED},
    {"open(database in a directory that does not exist)", SYNC_RESULT_DATABASE},
    {"open(call_timeout_ms 0)", SYNC_RESULT_INVALID_INPUT},
    {"open(reconnect min > max)", SYNC_RESULT_INVALID_INPUT},
    {"open(client_id not a UUID)", SYNC_RESULT_INVALID_INPUT},
    {"open(email with invalid UTF-8)", SYNC_RESULT_INVALID_INPUT},
    {"open(durability 7)", SYNC_RESULT_INVALID_INPUT},
    /* 149: sync_engine_add_listener */
    {"add_listener(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"add_listener(callback NULL)", SYNC_RESULT_INVALID_INPUT},
    {"add_listener(filter -2)", SYNC_RESULT_INVALID_INPUT},
    {"add_listener(filter 13)", SYNC_RESULT_INVALID_INPUT},
    /* 153: sync_engine_create_documents */
    {"create_documents(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"create_documents(json_array NULL)", SYNC_RESULT_INVALID_INPUT},
    {"create_documents(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"create_documents(invalid JSON)", SYNC_RESULT_INVALID_INPUT},
    {"create_documents(an object, not an array)", SYNC_RESULT_INVALID_INPUT},
    {"create_documents(one element not an object)", SYNC_RESULT_INVALID_INPUT},
    {"create_documents(invalid UTF-8)", SYNC_RESULT_INVALID_INPUT},
    /* 160: options added later */
    {"open(database_url :memory:)", SYNC_RESULT_INVALID_URL},
    {"open(tls_ca_file invalid UTF-8)", SYNC_RESULT_INVALID_INPUT},
    {"open(tls_ca_file missing)", SYNC_RESULT_INVALID_INPUT},
    {"open(tls_ca_file \"\")", SYNC_RESULT_INVALID_INPUT},
    {"create_with_options(tls_ca_file missing)", RETURNED_NULL},
    /* 165: the current API's own entry points (no strings or sizes: NULL is their wrong input) */
    {"event fd: get_event_fd(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"event fd: get_event_fd(out_fd NULL)", SYNC_RESULT_INVALID_INPUT},
    {"event fd: get_event_fd(NULL engine, out_fd NULL)", SYNC_RESULT_INVALID_INPUT},
    {"library_version(out NULL)", SYNC_RESULT_INVALID_INPUT},
    {"config_init(NULL)", SYNC_RESULT_INVALID_INPUT},
};
#define CASE_COUNT ((int)(sizeof cases / sizeof cases[0]))

static int run_case(int i) {
  SyncEngineHandle *e = E;
  const char *url = env.server_url, *key = env.api_key, *secret = env.api_secret;
  const char *db = test_db_path("refused");
  switch (i) {
    case 0: return sync_engine_create_document(NULL, "{}", out_id);
    case 1: return sync_engine_create_document_with_id(NULL, UNKNOWN, "{}");
    case 2: return sync_engine_update_document(NULL, DOC, "{}");
    case 3: return sync_engine_patch_document(NULL, DOC, "[]");
    case 4: return sync_engine_merge_document(NULL, DOC, "{}");
    case 5: return sync_engine_delete_document(NULL, DOC);
    case 6: return sync_engine_get_document(NULL, DOC, &out_json);
    case 7: return sync_engine_get_all_documents(NULL, &out_json);
    case 8: return sync_engine_count_documents(NULL, &out_count);
    case 9: return sync_engine_count_pending(NULL, &out_count);
    case 10: return sync_engine_is_connected(NULL, &out_flag);
    case 11: return sync_engine_flush(NULL, 100);
    case 12: return sync_engine_set_online(NULL, true);
    case 13: return sync_engine_undo(NULL, DOC);
    case 14: return sync_engine_redo(NULL, DOC);
    case 15: return sync_engine_get_history(NULL, DOC, &out_json);
    case 16: return sync_engine_get_conflicts(NULL, &out_json);
    case 17: return sync_engine_register_event_callback(NULL, noop_event, NULL, -1);
    case 18: return sync_engine_unregister_event_callback(NULL, noop_event, NULL);
    case 19: return sync_engine_process_events(NULL, NULL);
    case 20: return sync_engine_set_event_notify(NULL, noop_notify, NULL);
    case 21: return sync_engine_event_fd(NULL) == -1 ? RETURNED_MINUS_ONE : RETURNED_FD;

    case 22: return sync_engine_create_document(e, NULL, out_id);
    case 23: return sync_engine_create_document(e, "{\"title\":\"no out\"}", NULL);
    case 24: return sync_engine_create_document_with_id(e, NULL, "{}");
    case 25: return sync_engine_create_document_with_id(e, UNKNOWN, NULL);
    case 26: return sync_engine_update_document(e, NULL, "{}");
    case 27: return sync_engine_update_document(e, DOC, NULL);
    case 28: return sync_engine_patch_document(e, NULL, "[]");
    case 29: return sync_engine_patch_document(e, DOC, NULL);
    case 30: return sync_engine_merge_document(e, NULL, "{}");
    case 31: return sync_engine_merge_document(e, DOC, NULL);
    case 32: return sync_engine_delete_document(e, NULL);
    case 33: return sync_engine_get_document(e, NULL, &out_json);
    case 34: return sync_engine_get_document(e, DOC, NULL);
    case 35: return sync_engine_get_all_documents(e, NULL);
    case 36: return sync_engine_count_documents(e, NULL);
    case 37: return sync_engine_count_pending(e, NULL);
    case 38: return sync_engine_is_connected(e, NULL);
    case 39: return sync_engine_undo(e, NULL);
    case 40: return sync_engine_redo(e, NULL);
    case 41: return sync_engine_get_history(e, NULL, &out_json);
    case 42: return sync_engine_get_history(e, DOC, NULL);
    case 43: return sync_engine_get_conflicts(e, NULL);
    case 44: return sync_engine_register_event_callback(e, NULL, NULL, -1);
    case 45: return sync_engine_register_event_callback(e, noop_event, NULL, -2);
    case 46: return sync_engine_register_event_callback(e, noop_event, NULL, SYNC_EVENT_ATTACHMENT_FAILED + 1);
    case 47: return sync_engine_unregister_event_callback(e, NULL, NULL);
    case 48: return sync_engine_unregister_event_callback(e, noop_event, &out_count);

    case 49: return sync_engine_create_document(e, "{", out_id);
    case 50: return sync_engine_create_document(e, "", out_id);
    case 51: return sync_engine_create_document(e, "{\"a\":}", out_id);
    case 52: return sync_engine_create_document(e, "{} trailing", out_id);
    case 53: return sync_engine_create_document(e, "{'a':1}", out_id);
    case 54: return sync_engine_create_document_with_id(e, UNKNOWN, "{\"title\":");
    case 55: return sync_engine_update_document(e, DOC, "{\"title\":\"x\",}");
    case 56: return sync_engine_patch_document(e, DOC, "[{\"op\":\"add\"");
    case 57: return sync_engine_merge_document(e, DOC, "{nope}");

    case 58: return sync_engine_create_document(e, "[]", out_id);
    case 59: return sync_engine_create_document(e, "42", out_id);
    case 60: return sync_engine_create_document(e, "null", out_id);
    case 61: return sync_engine_create_document(e, "\"text\"", out_id);
    case 62: return sync_engine_create_document_with_id(e, UNKNOWN, "true");
    case 63: return sync_engine_update_document(e, DOC, "[1,2]");
    case 64: return sync_engine_update_document(e, DOC, "null");
    case 65: return sync_engine_merge_document(e, DOC, "[1]");
    case 66: return sync_engine_merge_document(e, DOC, "7");
    case 67: return sync_engine_patch_document(e, DOC, "{\"op\":\"add\",\"path\":\"/x\",\"value\":1}");
    case 68: return sync_engine_patch_document(e, DOC, "[{\"op\":\"frobnicate\",\"path\":\"/x\"}]");
    case 69: return sync_engine_patch_document(e, DOC, "[{\"op\":\"remove\",\"path\":\"/does/not/exist\"}]");
    case 70: return sync_engine_patch_document(e, DOC, "[{\"op\":\"replace\",\"path\":\"/n\",\"value\":2},{\"op\":\"test\",\"path\":\"/n\",\"value\":99}]");

    case 71: return sync_engine_create_document(e, "{\"t\":\"" OVERLONG "\"}", out_id);
    case 72: return sync_engine_create_document(e, "{\"t\":\"a" LONE_CONT "b\"}", out_id);
    case 73: return sync_engine_create_document(e, "{\"t\":\"" SURROGATE "\"}", out_id);
    case 74: return sync_engine_create_document(e, "{\"t\":\"" TRUNCATED "\"}", out_id);
    case 75: return sync_engine_create_document(e, "{\"t\":\"" OVERLONG3 "\"}", out_id);
    case 76: return sync_engine_create_document(e, "{\"t\":\"" TOO_BIG "\"}", out_id);
    case 77: return sync_engine_create_document(e, "{\"k" LONE_CONT "\":1}", out_id);
    case 78: return sync_engine_create_document(e, "{\"t\":1}" TRUNCATED, out_id);
    case 79: return sync_engine_create_document_with_id(e, UNKNOWN, "{\"t\":\"" SURROGATE "\"}");
    case 80: return sync_engine_create_document_with_id(e, "0b7d3c1e-5f2a-4d8b-9c6e-1a2b3c4d5e" OVERLONG, "{}");
    case 81: return sync_engine_update_document(e, DOC, "{\"t\":\"" OVERLONG "\"}");
    case 82: return sync_engine_patch_document(e, DOC, "[{\"op\":\"add\",\"path\":\"/t\",\"value\":\"" LONE_CONT "\"}]");
    case 83: return sync_engine_merge_document(e, DOC, "{\"t\":\"" TRUNCATED "\"}");
    case 84: return sync_engine_get_document(e, "0b7d3c1e-5f2a-4d8b-9c6e-" SURROGATE, &out_json);
    case 85: return sync_engine_delete_document(e, "0b7d3c1e" LONE_CONT);
    case 86: return sync_engine_update_document(e, "\xFF\xFE", "{}");
    case 87: return sync_engine_undo(e, TRUNCATED);
    case 88: return sync_engine_get_history(e, OVERLONG, &out_json);

    case 89: return sync_engine_create_document_with_id(e, "not-a-uuid", "{}");
    case 90: return sync_engine_create_document_with_id(e, "0B7D3C1E-5F2A-4D8B-9C6E-1A2B3C4D5E6F", "{}");
    case 91: return sync_engine_create_document_with_id(e, "", "{}");
    case 92: return sync_engine_create_document_with_id(e, "0b7d3c1e5-f2a-4d8b-9c6e-1a2b3c4d5e6f", "{}");
    case 93: return sync_engine_update_document(e, "not-a-uuid", "{}");
    case 94: return sync_engine_patch_document(e, "not-a-uuid", "[]");
    case 95: return sync_engine_merge_document(e, "not-a-uuid", "{}");
    case 96: return sync_engine_delete_document(e, "not-a-uuid");
    case 97: return sync_engine_get_document(e, "not-a-uuid", &out_json);
    case 98: return sync_engine_undo(e, "not-a-uuid");
    case 99: return sync_engine_redo(e, "not-a-uuid");
    case 100: return sync_engine_get_history(e, "not-a-uuid", &out_json);
    case 101: return sync_engine_get_document(e, "", &out_json);

    case 102: return sync_engine_update_document(e, UNKNOWN, "{}");
    case 103: return sync_engine_patch_document(e, UNKNOWN, "[]");
    case 104: return sync_engine_merge_document(e, UNKNOWN, "{}");
    case 105: return sync_engine_delete_document(e, UNKNOWN);
    case 106: return sync_engine_get_document(e, UNKNOWN, &out_json);
    case 107: return sync_engine_undo(e, UNKNOWN);
    case 108: return sync_engine_redo(e, UNKNOWN);
    case 109: return sync_engine_get_history(e, UNKNOWN, &out_json);

    case 110: return created_engine(sync_engine_create(NULL, url, "bad@example.com", key, secret));
    case 111: return created_engine(sync_engine_create(db, NULL, "bad@example.com", key, secret));
    case 112: return created_engine(sync_engine_create(db, url, NULL, key, secret));
    case 113: return created_engine(sync_engine_create(db, url, "bad@example.com", NULL, secret));
    case 114: return created_engine(sync_engine_create(db, url, "bad@example.com", key, NULL));
    case 115: return created_engine(sync_engine_create("", url, "bad@example.com", key, secret));
    case 116: return created_engine(sync_engine_create("sqlite:", url, "bad@example.com", key, secret));
    case 117: return created_engine(sync_engine_create(db, url, "bad" OVERLONG "@example.com", key, secret));
    case 118: return created_engine(sync_engine_create(db, "ws://127.0.0.1" SURROGATE, "bad@example.com", key, secret));
    case 119: return created_engine(sync_engine_create(db, url, "", key, secret));
    case 120: return created_engine(sync_engine_create("/nonexistent-dir-for-sync-tests/x/y.db", url, "bad@example.com", key, secret));
    case 149: return sync_engine_add_listener(NULL, SYNC_EVENT_ALL, noop_event, NULL, &out_listener);
    case 150: return sync_engine_add_listener(e, SYNC_EVENT_ALL, NULL, NULL, &out_listener);
    case 151: return sync_engine_add_listener(e, -2, noop_event, NULL, &out_listener);
    case 152: return sync_engine_add_listener(e, SYNC_EVENT_ATTACHMENT_FAILED + 1, noop_event, NULL, &out_listener);
    case 153: return sync_engine_create_documents(NULL, "[{}]", &out_json);
    case 154: return sync_engine_create_documents(e, NULL, &out_json);
    case 155: return sync_engine_create_documents(e, "[{\"title\":\"no out\"}]", NULL);
    case 156: return sync_engine_create_documents(e, "[{\"title\":", &out_json);
    case 157: return sync_engine_create_documents(e, "{\"title\":\"one\"}", &out_json);
    case 158: return sync_engine_create_documents(e, "[{\"title\":\"fine\"},5,{\"title\":\"also fine\"}]", &out_json);
    case 159: return sync_engine_create_documents(e, "[{\"t\":\"" OVERLONG "\"}]", &out_json);
    case 160: return open_case(17);
    case 161: return open_case(18);
    case 162: return open_case(19);
    case 163: return open_case(20);
    case 164: return create_with_options_case(11);
    case 165: return event_fd_case(NULL, true);
    case 166: return event_fd_case(e, false);
    case 167: return event_fd_case(NULL, false);
    case 168: return sync_library_version(NULL);
    case 169: return sync_engine_config_init(NULL);
    default: return i < 132 ? create_with_options_case(i - 121) : open_case(i - 132);
  }
}

/* ---- running each case on a fresh thread ---------------------------------------------------- */

typedef struct Outcome {
  int index;
  int result;
  bool empty_before;
  bool null_message;
  char message[512];
} Outcome;

static void *case_thread(void *arg) {
  Outcome *o = arg;
  const char *before = sync_last_error_message();
  o->empty_before = before != NULL && before[0] == '\0';
  o->result = run_case(o->index);
  const char *after = sync_last_error_message();
  o->null_message = after == NULL;
  snprintf(o->message, sizeof o->message, "%s", after ? after : "");
  return NULL;
}

/* ---- per-thread last error ------------------------------------------------------------------ */

typedef struct ErrorThread {
  sem_t go, done;
  char message[512];
  bool still_mine;
} ErrorThread;

static void *error_thread(void *arg) {
  ErrorThread *t = arg;
  CHECK(sync_engine_get_document(E, "not-a-uuid-for-thread-one", &out_json) != SYNC_RESULT_SUCCESS);
  snprintf(t->message, sizeof t->message, "%s", sync_last_error_message());
  sem_post(&t->done);
  sem_wait(&t->go); /* another thread makes an error of its own meanwhile */
  t->still_mine = strcmp(sync_last_error_message(), t->message) == 0;
  sem_post(&t->done);
  return NULL;
}

typedef struct FreshThread {
  bool empty;
  bool not_null;
  char own[512];
} FreshThread;

static void *fresh_thread(void *arg) {
  FreshThread *f = arg;
  const char *m = sync_last_error_message();
  f->not_null = m != NULL;
  f->empty = m && m[0] == '\0';
  CHECK(sync_engine_count_documents(NULL, &out_count) == SYNC_RESULT_NOT_INITIALIZED);
  snprintf(f->own, sizeof f->own, "%s", sync_last_error_message());
  return NULL;
}

static char *doc_json(void) {
  char *json = NULL;
  CHECK(sync_engine_get_document(E, DOC, &json) == SYNC_RESULT_SUCCESS);
  return json;
}

static char *history_json(void) {
  char *json = NULL;
  CHECK(sync_engine_get_history(E, DOC, &json) == SYNC_RESULT_SUCCESS);
  return json;
}

/* `c_api_bad_input hold PATH`: a second process holding an engine on PATH until stdin closes. */
static int hold_main(const char *path) {
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.start_offline = true;
  SyncEngineHandle *e = sync_engine_create_with_options(path, "ws://127.0.0.1:9/ws", "holder@example.com", TEST_OFFLINE_API_KEY, TEST_OFFLINE_API_SECRET, &o);
  if (!e) {
    fprintf(stderr, "holder: %s\n", sync_last_error_message());
    return 1;
  }
  char id[37];
  if (sync_engine_create_document(e, "{\"title\":\"held\"}", id) != SYNC_RESULT_SUCCESS) return 1;
  printf("ready\n");
  fflush(stdout);
  char buf[64];
  while (fread(buf, 1, sizeof buf, stdin) > 0) {
  }
  sync_engine_destroy(e);
  return 0;
}

extern char **environ;

/** A database file held by an engine in another process: NULL with a message, until that process is gone. */
static void held_by_another_process(void) {
  const char *p = test_db_path("held");
  char path[512];
  snprintf(path, sizeof path, "%s", p);
  int to_child[2], from_child[2];
  REQUIRE(pipe(to_child) == 0 && pipe(from_child) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);
  posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
  posix_spawn_file_actions_addclose(&fa, to_child[1]);
  posix_spawn_file_actions_addclose(&fa, from_child[0]);
  char self[] = "/proc/self/exe", hold[] = "hold";
  char *argv[] = {self, hold, path, NULL};
  pid_t pid;
  REQUIRE(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ) == 0);
  posix_spawn_file_actions_destroy(&fa);
  close(to_child[0]);
  close(from_child[1]);
  char line[16] = {0};
  ssize_t got = read(from_child[0], line, sizeof line - 1);
  CHECK(got > 0 && strncmp(line, "ready", 5) == 0);
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.start_offline = true;
  SyncEngineHandle *e = sync_engine_create_with_options(path, env.server_url, "held@example.com", env.api_key, env.api_secret, &o);
  CHECK(e == NULL);
  CHECK(sync_last_error_message()[0] != '\0');
  printf("engine on a file another process holds: %s\n", sync_last_error_message());
  SyncEngineConfig c;
  test_config(&c, &env, "held", "held@example.com");
  c.start_offline = true;
  CHECK(sync_engine_open(&c, &e) == SYNC_RESULT_LOCKED);
  CHECK(e == NULL);
  close(to_child[1]); /* the holder destroys its engine and exits */
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(from_child[0]);
  e = sync_engine_create_with_options(path, env.server_url, "held@example.com", env.api_key, env.api_secret, &o);
  CHECK(e != NULL);
  uint64_t n = 0;
  CHECK(e && sync_engine_count_documents(e, &n) == SYNC_RESULT_SUCCESS && n == 1);
  sync_engine_destroy(e);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "hold") == 0) return hold_main(argv[2]);
  test_env_load(&env);
  char email[128];
  test_unique_email(email, sizeof email, "bad");

  /* NULL-safe helpers, before any engine exists. */
  sync_engine_destroy(NULL);
  sync_string_free(NULL);
  sync_listener_remove(NULL);
  sync_engine_config_init(NULL);
  sync_engine_options_init(NULL);
  CHECK(sync_set_log_callback(NULL, NULL) == SYNC_RESULT_SUCCESS);
  CHECK(sync_last_error_message() != NULL);
  const char *version = NULL;
  CHECK(sync_library_version(&version) == SYNC_RESULT_SUCCESS && version && strcmp(version, SYNC_CLIENT_VERSION) == 0);
  CHECK(sync_last_error_message()[0] == '\0');
  /* The first generation's form hands out the same library-owned string; freeing it does nothing. */
  CHECK(sync_get_version() == version);
  sync_string_free(sync_get_version());
  CHECK(strcmp(version, SYNC_CLIENT_VERSION) == 0);

  /* An offline engine (nothing changes under us) with one document. */
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.start_offline = true;
  E = sync_engine_create_with_options(test_db_path("bad"), env.server_url, email, env.api_key, env.api_secret, &o);
  REQUIRE(E != NULL);
  REQUIRE(sync_engine_create_document(E, "{\"title\":\"Keep\",\"n\":1}", DOC) == SYNC_RESULT_SUCCESS);
  /* An undone change, so redo on DOC is possible and must not happen by accident either. */
  REQUIRE(sync_engine_update_document(E, DOC, "{\"title\":\"Keep\",\"n\":1,\"m\":2}") == SYNC_RESULT_SUCCESS);
  REQUIRE(sync_engine_undo(E, DOC) == SYNC_RESULT_SUCCESS);

  uint64_t docs_before = 0, pending_before = 0;
  CHECK(sync_engine_count_documents(E, &docs_before) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_count_pending(E, &pending_before) == SYNC_RESULT_SUCCESS);
  char *doc_before = doc_json();
  char *history_before = history_json();
  REQUIRE(doc_before && history_before);

  int failed_cases = 0;
  for (int i = 0; i < CASE_COUNT; i++) {
    Outcome out = {.index = i};
    out_json = (char *)"sentinel"; /* must be set to NULL, or left untouched when the pointer is NULL-checked first */
    out_listener = (SyncListener *)&out_count; /* likewise */
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, case_thread, &out) == 0);
    pthread_join(t, NULL);
    bool ok = out.result == cases[i].expected && out.empty_before && !out.null_message && out.message[0] != '\0';
    if (!ok) {
      failed_cases++;
      test_failures++;
      fprintf(stderr, "case %d %s: got %d, expected %d; message \"%s\"%s\n", i, cases[i].name, out.result, cases[i].expected, out.message,
              out.empty_before ? "" : " (fresh thread's message was not empty)");
    }
    /* Outputs of refused calls are set to NULL, never left dangling or half-written. */
    bool uses_out_json = (strncmp(cases[i].name, "get_", 4) == 0 || strncmp(cases[i].name, "create_documents", 16) == 0) &&
                         strstr(cases[i].name, "out NULL") == NULL;
    if (uses_out_json && out.result != SYNC_RESULT_SUCCESS && out_json != NULL) {
      fprintf(stderr, "case %d %s: *out_json not NULL after failure\n", i, cases[i].name);
      test_failures++;
    }
    if (strncmp(cases[i].name, "add_listener", 12) == 0 && out_listener != NULL) {
      fprintf(stderr, "case %d %s: *out not NULL after failure\n", i, cases[i].name);
      test_failures++;
    }
  }
  printf("%d bad-input cases, %d wrong\n", CASE_COUNT, failed_cases);

  /* Nothing was written. */
  uint64_t docs_after = 0, pending_after = 0;
  CHECK(sync_engine_count_documents(E, &docs_after) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_count_pending(E, &pending_after) == SYNC_RESULT_SUCCESS);
  CHECK(docs_after == docs_before);
  CHECK(pending_after == pending_before);
  char *doc_after = doc_json();
  char *history_after = history_json();
  CHECK(doc_after && strcmp(doc_after, doc_before) == 0);
  CHECK(history_after && strcmp(history_after, history_before) == 0);
  sync_string_free(doc_before);
  sync_string_free(doc_after);
  sync_string_free(history_before);
  sync_string_free(history_after);
  {
    char *all = NULL;
    CHECK(sync_engine_get_all_documents(E, &all) == SYNC_RESULT_SUCCESS);
    CHECK(all && strstr(all, UNKNOWN) == NULL);
    sync_string_free(all);
  }
  /* The engine still works after all that; create_document zeroes out_id on failure. */
  {
    char id[37] = "garbage";
    CHECK(sync_engine_create_document(E, "[]", id) == SYNC_RESULT_INVALID_INPUT);
    CHECK(id[0] == '\0');
    uint32_t n = 99;
    CHECK(sync_engine_process_events(E, &n) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_process_events(E, NULL) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_set_event_notify(E, NULL, NULL) == SYNC_RESULT_SUCCESS);
    /* started offline: flush cannot succeed, and says so at once */
    double t0 = test_now_ms();
    CHECK(sync_engine_flush(E, 3000) == SYNC_RESULT_CONNECTION);
    CHECK(test_now_ms() - t0 < 1000);
    CHECK(sync_last_error_message()[0] != '\0');
    int fd = -1;
    CHECK(sync_engine_get_event_fd(E, &fd) == SYNC_RESULT_SUCCESS && fd >= 0);
    CHECK(sync_engine_event_fd(E) == fd); /* the first generation's form, the same descriptor */
    CHECK(sync_engine_create_document(E, "{\"title\":\"after\"}", id) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_delete_document(E, id) == SYNC_RESULT_SUCCESS);
  }

  /* sync_last_error_message is per thread: one thread's error does not show on another. */
  {
    ErrorThread one;
    sem_init(&one.go, 0, 0);
    sem_init(&one.done, 0, 0);
    pthread_t t1, t2;
    REQUIRE(pthread_create(&t1, NULL, error_thread, &one) == 0);
    sem_wait(&one.done);
    CHECK(one.message[0] != '\0');
    FreshThread fresh = {0};
    REQUIRE(pthread_create(&t2, NULL, fresh_thread, &fresh) == 0);
    pthread_join(t2, NULL);
    CHECK(fresh.not_null);
    CHECK(fresh.empty);
    CHECK(fresh.own[0] != '\0');
    CHECK(strcmp(fresh.own, one.message) != 0);
    sem_post(&one.go);
    sem_wait(&one.done);
    pthread_join(t1, NULL);
    CHECK(one.still_mine);
    sem_destroy(&one.go);
    sem_destroy(&one.done);
    /* and this thread's own error stays its own too */
    CHECK(sync_engine_get_document(E, UNKNOWN, &out_json) == SYNC_RESULT_NOT_FOUND);
    char mine[512];
    snprintf(mine, sizeof mine, "%s", sync_last_error_message());
    CHECK(mine[0] != '\0');
    REQUIRE(pthread_create(&t2, NULL, fresh_thread, &fresh) == 0);
    pthread_join(t2, NULL);
    CHECK(strcmp(sync_last_error_message(), mine) == 0);
  }

  /* A database file another engine holds: NULL with a message; free again once that engine is gone. */
  {
    const char *path = test_db_path("bad");
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s?mode=rwc", path);
    SyncEngineHandle *second = sync_engine_create_with_options(path, env.server_url, email, env.api_key, env.api_secret, &o);
    CHECK(second == NULL);
    CHECK(sync_last_error_message()[0] != '\0');
    printf("second engine on a held file: %s\n", sync_last_error_message());
    sync_engine_destroy(second);
    second = sync_engine_create_with_options(url, env.server_url, email, env.api_key, env.api_secret, &o);
    CHECK(second == NULL);
    CHECK(sync_last_error_message()[0] != '\0');
    sync_engine_destroy(second);
    sync_engine_destroy(E);
    E = NULL;
    second = sync_engine_create_with_options(url, env.server_url, email, env.api_key, env.api_secret, &o);
    CHECK(second != NULL);
    uint64_t n = 0;
    CHECK(sync_engine_count_documents(second, &n) == SYNC_RESULT_SUCCESS && n == docs_before);
    sync_engine_destroy(second);
  }

  held_by_another_process();

  return test_finish("c_api_bad_input");
}
