/* process.exit(3) inside the embedded runtime does not end the host: this process keeps running,
 * the engine keeps answering, and the runtime's event loop keeps running (a change still travels
 * through the real server to a second engine, and a new engine can still be created). */
#define _GNU_SOURCE
#include <string.h>

#include "harness.h"
#include "rt_util.h"
#include "test_hooks.h"

static int log_exit_lines = 0;
static void on_log(SyncLogLevel level, const char *message, void *context) {
  (void)level;
  (void)context;
  if (strstr(message, "process.exit(3)")) __atomic_add_fetch(&log_exit_lines, 1, __ATOMIC_SEQ_CST);
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  sync_set_log_callback(on_log, NULL);
  SyncEngineHandle *a = test_engine(&env, "a", "exit@example.com");
  REQUIRE(a != NULL);
  char id[37];
  CHECK(sync_engine_create_document(a, "{\"title\":\"before\"}", id) == SYNC_RESULT_SUCCESS);

  SyncResult r = sync_client_test_process_exit(a);
  /* Whatever the hook itself answers, we are still here. */
  printf("rt_process_exit: process.exit(3) ran inside the runtime (hook returned %d: %s); the host process is still running\n", (int)r,
         sync_last_error_message());
  CHECK(r != SYNC_RESULT_TIMEOUT);  /* the JS thread came back from process.exit */
  CHECK(__atomic_load_n(&log_exit_lines, __ATOMIC_SEQ_CST) == 1);

  /* The same engine still works. */
  CHECK(sync_engine_create_document(a, "{\"title\":\"after exit\",\"n\":3}", id) == SYNC_RESULT_SUCCESS);
  CHECK(strlen(id) == 36);
  uint64_t count = 0;
  CHECK(sync_engine_count_documents(a, &count) == SYNC_RESULT_SUCCESS && count == 2);

  /* A new engine starts, and the runtime's loop still does network I/O: a's documents arrive on b. */
  SyncEngineHandle *b = test_engine(&env, "b", "exit@example.com");
  REQUIRE(b != NULL);
  TestCreated seen = {0};
  CHECK(sync_engine_register_event_callback(b, test_record_created, &seen, -1) == SYNC_RESULT_SUCCESS);
  char id2[37];
  CHECK(sync_engine_create_document(a, "{\"title\":\"late\",\"n\":4}", id2) == SYNC_RESULT_SUCCESS);
  bool arrived = false;
  double deadline = test_now_ms() + 20000;
  while (!arrived && test_now_ms() < deadline) {
    test_pump_until(b, test_got_created, &seen, 200);
    count = 0;
    arrived = sync_engine_count_documents(b, &count) == SYNC_RESULT_SUCCESS && count == 3;
  }
  CHECK(arrived);
  char *json = NULL;
  CHECK(sync_engine_get_document(b, id2, &json) == SYNC_RESULT_SUCCESS && json && strstr(json, "\"late\""));
  sync_string_free(json);
  CHECK(seen.created >= 1);

  sync_engine_destroy(b);
  sync_engine_destroy(a);
  sync_set_log_callback(NULL, NULL);
  return test_finish("rt_process_exit");
}
