/* sync_engine_open and what wraps it, against the fixture's server:
 * - a config with every option set opens (start_offline holds: flush says CONNECTION at once), and
 *   reopened online it syncs what was written offline;
 * - sync_engine_create and sync_engine_create_with_options return the engine open() would, and NULL
 *   with open()'s message when it refuses;
 * - a config of the first version (struct_size without the fields added since, garbage after it)
 *   opens with those fields at their defaults;
 * - the version string: the library's static one, which sync_string_free() accepts (any number of
 *   times) and which needs no freeing. (Each refusal's code: c_api_bad_input.) */
#include <stddef.h>
#include <string.h>

#include "harness.h"

static TestEnv env;

int main(void) {
  test_env_load(&env);

  /* The version string. */
  char *version = sync_get_version();
  CHECK(version != NULL && strcmp(version, SYNC_CLIENT_VERSION) == 0);
  CHECK(sync_get_version() == version); /* one static string, nothing allocated per call */
  sync_string_free(version);
  sync_string_free(version);
  CHECK(strcmp(sync_get_version(), SYNC_CLIENT_VERSION) == 0);

  /* Every option set. */
  SyncEngineConfig c;
  test_config(&c, &env, "open-options", "open@example.com");
  CHECK(c.struct_size == sizeof c);
  CHECK(c.call_timeout_ms == 10000 && c.event_queue_limit == 10000 && c.reconnect_min_ms == 250 && !c.start_offline);
  c.reconnect_min_ms = 100;
  c.reconnect_max_ms = 2000;
  c.heartbeat_interval_ms = 5000;
  c.heartbeat_timeout_ms = 3000;
  c.call_timeout_ms = 5000;
  c.event_queue_limit = 100;
  c.durability = SYNC_DURABILITY_FULL;
  c.client_id = "4b2f5a3c-1d6e-4f70-8a9b-0c1d2e3f4a5b";
  c.start_offline = true;
  SyncEngineHandle *e = NULL;
  CHECK(sync_engine_open(&c, &e) == SYNC_RESULT_SUCCESS);
  REQUIRE(e != NULL);
  CHECK(sync_last_error_message()[0] == '\0');
  double t0 = test_now_ms();
  CHECK(sync_engine_flush(e, 5000) == SYNC_RESULT_CONNECTION);
  CHECK(test_now_ms() - t0 < 1000);
  char id[SYNC_DOCUMENT_ID_SIZE];
  CHECK(sync_engine_create_document(e, "{\"title\":\"opened\"}", id) == SYNC_RESULT_SUCCESS);
  sync_engine_destroy(e);
  /* The same file reopened online: the document made offline reaches the server. */
  c.start_offline = false;
  e = NULL;
  CHECK(sync_engine_open(&c, &e) == SYNC_RESULT_SUCCESS);
  REQUIRE(e != NULL);
  CHECK(sync_engine_flush(e, 20000) == SYNC_RESULT_SUCCESS);
  uint64_t n = 99;
  CHECK(sync_engine_count_pending(e, &n) == SYNC_RESULT_SUCCESS && n == 0);
  sync_engine_destroy(e);

  /* A caller built against the first SyncEngineConfig: the library reads no further than its
   * struct_size, so what lies beyond (here an unreadable tls_ca_file) is never seen. */
  test_config(&c, &env, "open-first-version", "open@example.com");
  c.struct_size = offsetof(SyncEngineConfig, tls_ca_file);
  c.tls_ca_file = "/nonexistent-dir-for-sync-tests/ca.pem";
  c.start_offline = true;
  e = NULL;
  CHECK(sync_engine_open(&c, &e) == SYNC_RESULT_SUCCESS);
  sync_engine_destroy(e);
  SyncEngineOptions first;
  sync_engine_options_init(&first);
  first.struct_size = offsetof(SyncEngineOptions, tls_ca_file);
  first.tls_ca_file = "/nonexistent-dir-for-sync-tests/ca.pem";
  first.start_offline = true;
  SyncEngineHandle *created = sync_engine_create_with_options(test_db_path("open-first-options"), env.server_url, "open@example.com", env.api_key, env.api_secret, &first);
  CHECK(created != NULL);
  sync_engine_destroy(created);

  /* The create functions are open() underneath: same engine, same refusals with open()'s message. */
  created = test_engine(&env, "open-create", "open@example.com");
  CHECK(created != NULL);
  CHECK(created && sync_engine_count_documents(created, &n) == SYNC_RESULT_SUCCESS);
  sync_engine_destroy(created);

  test_config(&c, &env, "open-refused", "open@example.com");
  c.server_url = "http://127.0.0.1:1/ws";
  CHECK(sync_engine_open(&c, &e) == SYNC_RESULT_INVALID_URL);
  char open_message[512];
  snprintf(open_message, sizeof open_message, "%s", sync_last_error_message());
  CHECK(strstr(open_message, "server_url") != NULL);
  CHECK(sync_engine_create(c.database_url, c.server_url, c.email, c.api_key, c.api_secret) == NULL);
  CHECK(strcmp(sync_last_error_message(), open_message) == 0);
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  CHECK(o.struct_size == sizeof o && o.call_timeout_ms == 10000 && o.reconnect_max_ms == 30000);
  CHECK(sync_engine_create_with_options(c.database_url, c.server_url, c.email, c.api_key, c.api_secret, &o) == NULL);
  CHECK(strcmp(sync_last_error_message(), open_message) == 0);
  CHECK(sync_engine_create(c.database_url, env.server_url, c.email, "rpa_your_api_key_here", c.api_secret) == NULL);
  CHECK(strstr(sync_last_error_message(), "api_key") != NULL);

  /* create_with_options passes its options on: start_offline makes flush fail at once. */
  o.start_offline = true;
  created = sync_engine_create_with_options(test_db_path("open-with-options"), env.server_url, "open@example.com", env.api_key, env.api_secret, &o);
  REQUIRE(created != NULL);
  CHECK(sync_engine_flush(created, 5000) == SYNC_RESULT_CONNECTION);
  sync_engine_destroy(created);
  return test_finish("c_api_open");
}
