/* Two engines of one user in one process: a document created on one arrives on the other through
 * sync_engine_process_events, with its content. */
#include <string.h>

#include "harness.h"

int main(void) {
  TestEnv env;
  test_env_load(&env);
  CHECK(strcmp(sync_get_version(), SYNC_CLIENT_VERSION) == 0);
  SyncEngineHandle *a = test_engine(&env, "a", "smoke@example.com");
  REQUIRE(a != NULL);
  char sqlite_url[600];
  snprintf(sqlite_url, sizeof sqlite_url, "sqlite:%s?mode=rwc", test_db_path("b"));
  SyncEngineHandle *b = sync_engine_create(sqlite_url, env.server_url, "smoke@example.com", env.api_key, env.api_secret);
  REQUIRE(b != NULL);
  TestCreated seen = {0};
  CHECK(sync_engine_register_event_callback(b, test_record_created, &seen, -1) == SYNC_RESULT_SUCCESS);
  char id[37];
  CHECK(sync_engine_create_document(a, "{\"title\":\"Hello\",\"n\":1}", id) == SYNC_RESULT_SUCCESS);
  CHECK(strlen(id) == 36);
  CHECK(test_pump_until(b, test_got_created, &seen, 15000));
  CHECK(strcmp(seen.id, id) == 0);
  CHECK(strstr(seen.content, "\"Hello\"") != NULL);
  uint64_t count = 0;
  CHECK(sync_engine_count_documents(b, &count) == SYNC_RESULT_SUCCESS && count == 1);
  sync_engine_destroy(a);
  sync_engine_destroy(b);
  return test_finish("c_api_smoke");
}
