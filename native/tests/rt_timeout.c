/* call_timeout_ms: while the engine's JS thread is busy, a call returns SYNC_RESULT_TIMEOUT after
 * about the configured time ("outcome unknown"); the request still runs when the thread is free
 * again, and retrying create_document_with_id with the same id and content then succeeds without
 * creating a second document. Reads do not wait for the busy thread at all: they answer at once. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"
#include "test_hooks.h"

#define CALL_TIMEOUT_MS 300
#define BLOCK_MS 1500

typedef struct Blocker {
  SyncEngineHandle *engine;
  SyncResult result;
  double elapsed_ms;
} Blocker;

static void *block_js_thread(void *arg) {
  Blocker *b = arg;
  double t0 = test_now_ms();
  b->result = sync_client_test_block(b->engine, BLOCK_MS);
  b->elapsed_ms = test_now_ms() - t0;
  return NULL;
}

int main(void) {
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.call_timeout_ms = CALL_TIMEOUT_MS;
  o.start_offline = true;
  SyncEngineHandle *e = sync_engine_create_with_options(test_db_path("timeout"), "ws://127.0.0.1:1/ws", "timeout@example.com", TEST_OFFLINE_API_KEY, TEST_OFFLINE_API_SECRET, &o);
  REQUIRE(e != NULL);
  /* Warm: a first call answers well within the timeout when the JS thread is free. */
  uint64_t count = 99;
  CHECK(sync_engine_count_documents(e, &count) == SYNC_RESULT_SUCCESS && count == 0);

  const char *id = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
  const char *json = "{\"title\":\"retried\",\"n\":7}";

  Blocker blocker = {e, SYNC_RESULT_UNKNOWN, 0};
  pthread_t thread;
  double block_start = test_now_ms();
  REQUIRE(pthread_create(&thread, NULL, block_js_thread, &blocker) == 0);
  usleep(100 * 1000);  /* let the block start on the JS thread */

  /* Reads answer on this thread meanwhile, from the file and from the published counts. */
  double t0 = test_now_ms();
  char *all = NULL;
  bool connected = true;
  CHECK(sync_engine_get_all_documents(e, &all) == SYNC_RESULT_SUCCESS && all && strcmp(all, "[]") == 0);
  sync_string_free(all);
  CHECK(sync_engine_count_documents(e, &count) == SYNC_RESULT_SUCCESS && count == 0);
  CHECK(sync_engine_count_pending(e, &count) == SYNC_RESULT_SUCCESS && count == 0);
  CHECK(sync_engine_is_connected(e, &connected) == SYNC_RESULT_SUCCESS && !connected);
  printf("rt_timeout: four reads while the JS thread is blocked took %.2f ms\n", test_now_ms() - t0);
  CHECK(test_now_ms() - t0 < 100);

  t0 = test_now_ms();
  SyncResult r = sync_engine_create_document_with_id(e, id, json);
  double waited = test_now_ms() - t0;
  printf("rt_timeout: create_document_with_id while the JS thread is blocked returned %d after %.1f ms (call_timeout_ms %d)\n", (int)r, waited,
         CALL_TIMEOUT_MS);
  CHECK(r == SYNC_RESULT_TIMEOUT);
  CHECK(strlen(sync_last_error_message()) > 0);
  CHECK(waited >= CALL_TIMEOUT_MS - 5 && waited <= 600);

  pthread_join(thread, NULL);
  printf("rt_timeout: the blocking call itself returned %d after %.1f ms\n", (int)blocker.result, blocker.elapsed_ms);
  CHECK(blocker.result == SYNC_RESULT_TIMEOUT);
  CHECK(blocker.elapsed_ms >= CALL_TIMEOUT_MS - 5 && blocker.elapsed_ms <= 600);

  /* Wait for the JS thread to come back (calls that go there time out until then). */
  double deadline = test_now_ms() + 10000;
  char *conflicts = NULL;
  while ((r = sync_engine_get_conflicts(e, &conflicts)) == SYNC_RESULT_TIMEOUT && test_now_ms() < deadline) {
  }
  CHECK(r == SYNC_RESULT_SUCCESS);
  sync_string_free(conflicts);
  CHECK(sync_engine_count_documents(e, &count) == SYNC_RESULT_SUCCESS);
  printf("rt_timeout: the JS thread answered again %.0f ms after the block began; count_documents = %llu\n", test_now_ms() - block_start,
         (unsigned long long)count);
  CHECK(test_now_ms() - block_start >= 1400);
  /* The timed-out create did run late ("outcome unknown" — here it landed). */
  CHECK(count == 1);

  /* The safe retry: same id, same content → Success, still one document. */
  CHECK(sync_engine_create_document_with_id(e, id, json) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_count_documents(e, &count) == SYNC_RESULT_SUCCESS && count == 1);
  /* Same content with members in another order is the same content. */
  CHECK(sync_engine_create_document_with_id(e, id, "{\"n\":7,\"title\":\"retried\"}") == SYNC_RESULT_SUCCESS);
  char *doc = NULL;
  CHECK(sync_engine_get_document(e, id, &doc) == SYNC_RESULT_SUCCESS && doc && strstr(doc, "\"retried\""));
  sync_string_free(doc);
  /* Same id, different content is not a retry. */
  CHECK(sync_engine_create_document_with_id(e, id, "{\"title\":\"other\"}") == SYNC_RESULT_CONFLICT);
  CHECK(sync_engine_count_documents(e, &count) == SYNC_RESULT_SUCCESS && count == 1);

  /* A retry that comes first (the timed-out call never ran) also gives exactly one document. */
  const char *id2 = "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
  blocker.result = SYNC_RESULT_UNKNOWN;
  REQUIRE(pthread_create(&thread, NULL, block_js_thread, &blocker) == 0);
  usleep(100 * 1000);
  CHECK(sync_engine_create_document_with_id(e, id2, json) == SYNC_RESULT_TIMEOUT);
  pthread_join(thread, NULL);
  deadline = test_now_ms() + 10000;
  while ((r = sync_engine_create_document_with_id(e, id2, json)) == SYNC_RESULT_TIMEOUT && test_now_ms() < deadline) {
  }
  CHECK(r == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_count_documents(e, &count) == SYNC_RESULT_SUCCESS && count == 2);

  sync_engine_destroy(e);
  return test_finish("rt_timeout");
}
