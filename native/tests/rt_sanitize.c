/* A functional round trip built against the AddressSanitizer + UBSan copy of the library
 * (lib-asan/libsync_client.so.1): every document call, events through the real server to a second
 * engine, an attachment's bytes both ways across the bridge and through the server, late answers to timed-out calls, queue overflow, the process.exit hook, bad input, and
 * destroy/shutdown — the paths where a use-after-free or leak in the bridge would show. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"
#include "test_hooks.h"

#ifndef __SANITIZE_ADDRESS__
#error "rt_sanitize must be built with -fsanitize=address"
#endif

typedef struct Seen {
  int created, updated, deleted, errors, attachments;
  char id[37];
  char content[256];
} Seen;

static void on_event(const SyncEventData *e, void *context) {
  Seen *s = context;
  if (e->event_type == SYNC_EVENT_SYNC_ERROR) s->errors++;
  if (e->event_type == SYNC_EVENT_ATTACHMENT_COMPLETED && !e->boolean_data) s->attachments++;
  if (e->boolean_data) return; /* local echo */
  if (e->event_type == SYNC_EVENT_DOCUMENT_CREATED) s->created++;
  else if (e->event_type == SYNC_EVENT_DOCUMENT_UPDATED) s->updated++;
  else if (e->event_type == SYNC_EVENT_DOCUMENT_DELETED) s->deleted++;
  else return;
  snprintf(s->id, sizeof s->id, "%s", e->document_id ? e->document_id : "");
  snprintf(s->content, sizeof s->content, "%s", e->content ? e->content : "");
}

/* RT_SANITIZE_PLANT_LEAK=1 (the rt_sanitize_lsan_live test): the log callback, which runs on the
 * runtime's thread with libnode's frames above it, leaks 4242 bytes per line. LeakSanitizer must
 * report them: proof that lsan.supp does not hide leaks made under libnode's frames. */
static void leaky_log(SyncLogLevel level, const char *message, void *context) {
  (void)level;
  (void)context;
  char *p = malloc(4242);
  if (p) snprintf(p, 4242, "%s", message);
  __asm__ volatile("" : : "r"(p) : "memory");
}

static bool created(void *c) { return ((Seen *)c)->created >= 1; }
static bool updated3(void *c) { return ((Seen *)c)->updated >= 3; }
static bool deleted(void *c) { return ((Seen *)c)->deleted >= 1; }
static bool attachment_arrived(void *c) { return ((Seen *)c)->attachments >= 1; }

/* Left for the library's exit-time shutdown (a global: still reachable, so not a leak). */
static SyncEngineHandle *a;

static void *block(void *engine) {
  sync_client_test_block(engine, 600);
  return NULL;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  if (getenv("RT_SANITIZE_PLANT_LEAK")) sync_set_log_callback(leaky_log, NULL);
  /* The sanitized copy of the library is the one in use. */
  Dl_info info;
  REQUIRE(dladdr((void *)sync_get_version, &info) != 0 && info.dli_fname);
  printf("rt_sanitize: library %s\n", info.dli_fname);
  REQUIRE(strncmp(info.dli_fname, SYNC_ASAN_LIB_DIR "/", strlen(SYNC_ASAN_LIB_DIR) + 1) == 0);
  a = test_engine(&env, "a", "asan@example.com");
  SyncEngineHandle *b = test_engine(&env, "b", "asan@example.com");
  REQUIRE(a && b);
  Seen seen = {0};
  CHECK(sync_engine_register_event_callback(b, on_event, &seen, -1) == SYNC_RESULT_SUCCESS);

  /* Round trip of the document calls. */
  char id[37];
  CHECK(sync_engine_create_document(a, "{\"title\":\"asan\",\"n\":1,\"tags\":[\"x\"]}", id) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(b, created, &seen, 20000));
  CHECK(strcmp(seen.id, id) == 0 && strstr(seen.content, "\"asan\""));
  CHECK(sync_engine_update_document(a, id, "{\"title\":\"asan\",\"n\":2}") == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_patch_document(a, id, "[{\"op\":\"add\",\"path\":\"/p\",\"value\":true}]") == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_merge_document(a, id, "{\"m\":\"é\",\"n\":null}") == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(b, updated3, &seen, 20000));
  char *json = NULL;
  CHECK(sync_engine_get_document(b, id, &json) == SYNC_RESULT_SUCCESS && json && strstr(json, "\"m\":\"é\"") && !strstr(json, "\"n\""));
  sync_string_free(json);
  json = NULL;
  CHECK(sync_engine_get_all_documents(a, &json) == SYNC_RESULT_SUCCESS && json && json[0] == '[');
  sync_string_free(json);
  json = NULL;
  CHECK(sync_engine_get_history(a, id, &json) == SYNC_RESULT_SUCCESS && json);
  sync_string_free(json);
  json = NULL;
  CHECK(sync_engine_get_conflicts(a, &json) == SYNC_RESULT_SUCCESS && json);
  sync_string_free(json);
  CHECK(sync_engine_delete_document(a, id) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(b, deleted, &seen, 20000));
  CHECK(sync_engine_flush(a, 10000) == SYNC_RESULT_SUCCESS);

  /* Attachments: bytes across the bridge both ways, a download through the server with its events. */
  size_t length = 300000;
  unsigned char *bytes = malloc(length);
  for (size_t i = 0; i < length; i++) bytes[i] = (unsigned char)(i * 7 + (i >> 9));
  char *reference = NULL;
  CHECK(sync_engine_add_attachment(a, bytes, length, "application/x-asan", &reference) == SYNC_RESULT_SUCCESS && reference);
  char attachment[72] = "";
  if (reference && strstr(reference, "sha256-")) snprintf(attachment, sizeof attachment, "%.71s", strstr(reference, "sha256-"));
  sync_string_free(reference);
  void *got = NULL;
  size_t got_length = 0;
  CHECK(sync_engine_get_attachment(a, attachment, &got, &got_length) == SYNC_RESULT_SUCCESS && got_length == length && memcmp(got, bytes, length) == 0);
  sync_bytes_free(got);
  uint64_t pending_uploads = 1;
  for (double until = test_now_ms() + 20000; pending_uploads > 0 && test_now_ms() < until; usleep(10000)) {
    sync_engine_process_events(a, NULL);
    CHECK(sync_engine_count_pending_attachments(a, &pending_uploads) == SYNC_RESULT_SUCCESS);
  }
  CHECK(pending_uploads == 0);
  CHECK(sync_engine_fetch_attachment(b, attachment) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(b, attachment_arrived, &seen, 20000));
  got = NULL;
  CHECK(sync_engine_get_attachment(b, attachment, &got, &got_length) == SYNC_RESULT_SUCCESS && got_length == length && memcmp(got, bytes, length) == 0);
  sync_bytes_free(got);
  CHECK(sync_engine_get_attachment(b, "sha256-nope", &got, &got_length) == SYNC_RESULT_INVALID_INPUT && got == NULL);
  free(bytes);

  /* Bad input: codes, messages, no crash. */
  CHECK(sync_engine_create_document(a, NULL, id) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_create_document(a, "{\"bad\":\"\xff\"}", id) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_create_document(a, "{not json", id) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_update_document(a, "00000000-0000-4000-8000-000000000000", "{}") == SYNC_RESULT_NOT_FOUND);
  CHECK(sync_engine_count_documents(NULL, NULL) != SYNC_RESULT_SUCCESS);
  CHECK(strlen(sync_last_error_message()) > 0);

  /* Late answers: calls that timed out complete afterwards on the JS thread (the waiter is gone). */
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.call_timeout_ms = 150;
  o.event_queue_limit = 5;
  o.start_offline = true;
  SyncEngineHandle *c = sync_engine_create_with_options(test_db_path("c"), "ws://127.0.0.1:1/ws", "asan@example.com", TEST_OFFLINE_API_KEY, TEST_OFFLINE_API_SECRET, &o);
  REQUIRE(c != NULL);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, block, c) == 0);
  usleep(50 * 1000);
  for (int i = 0; i < 3; i++) {
    char *late = NULL;
    CHECK(sync_engine_get_conflicts(c, &late) == SYNC_RESULT_TIMEOUT && late == NULL);
  }
  /* Reads do not wait for the blocked thread. */
  char *all = NULL;
  CHECK(sync_engine_get_all_documents(c, &all) == SYNC_RESULT_SUCCESS && all && strcmp(all, "[]") == 0);
  sync_string_free(all);
  pthread_join(t, NULL);
  char *conflicts = NULL;
  double deadline = test_now_ms() + 5000;
  while (sync_engine_get_conflicts(c, &conflicts) == SYNC_RESULT_TIMEOUT && test_now_ms() < deadline) {
  }
  CHECK(conflicts && strcmp(conflicts, "[]") == 0);
  sync_string_free(conflicts);
  uint64_t count = 1;
  CHECK(sync_engine_count_documents(c, &count) == SYNC_RESULT_SUCCESS && count == 0);

  /* Overflow: 20 events into a queue of 5. */
  Seen cs = {0};
  CHECK(sync_engine_register_event_callback(c, on_event, &cs, -1) == SYNC_RESULT_SUCCESS);
  for (int i = 0; i < 20; i++) CHECK(sync_engine_create_document(c, "{\"title\":\"o\"}", id) == SYNC_RESULT_SUCCESS);
  uint32_t processed = 0;
  CHECK(sync_engine_process_events(c, &processed) == SYNC_RESULT_SUCCESS && processed == 6 && cs.errors == 1);

  /* process.exit inside the runtime, then keep going. */
  sync_client_test_process_exit(c);
  CHECK(sync_engine_count_documents(c, &count) == SYNC_RESULT_SUCCESS && count == 20);

  sync_engine_destroy(c);
  sync_engine_destroy(b);
  return test_finish("rt_sanitize");
}
