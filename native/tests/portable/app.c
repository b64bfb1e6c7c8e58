/* dist_portable_test.sh's find_package consumer: opens an engine on DB_PATH against the server that
 * SYNC_SERVER_URL, SYNC_API_KEY and SYNC_API_SECRET name (run_example.sh sets them), creates a
 * document, flushes, and expects the server to have it (nothing pending) and the read to return it.
 * usage: app DB_PATH */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sync_client.h>

int main(int argc, char **argv) {
  if (argc != 2 || !getenv("SYNC_SERVER_URL") || !getenv("SYNC_API_KEY") || !getenv("SYNC_API_SECRET")) {
    fprintf(stderr, "usage: app DB_PATH (with SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET set)\n");
    return 2;
  }
  SyncEngineConfig config;
  sync_engine_config_init(&config);
  config.database_url = argv[1];
  config.server_url = getenv("SYNC_SERVER_URL");
  config.email = "portable@example.com";
  config.api_key = getenv("SYNC_API_KEY");
  config.api_secret = getenv("SYNC_API_SECRET");
  SyncEngineHandle *engine = NULL;
  if (sync_engine_open(&config, &engine) != SYNC_RESULT_SUCCESS) {
    fprintf(stderr, "sync_engine_open: %s\n", sync_last_error_message());
    return 1;
  }
  char id[SYNC_DOCUMENT_ID_SIZE];
  uint64_t pending = 1;
  char *json = NULL;
  int ok = sync_engine_create_document(engine, "{\"title\":\"from a minimal root\"}", id) == SYNC_RESULT_SUCCESS &&
           sync_engine_flush(engine, 30000) == SYNC_RESULT_SUCCESS &&
           sync_engine_count_pending(engine, &pending) == SYNC_RESULT_SUCCESS && pending == 0 &&
           sync_engine_get_document(engine, id, &json) == SYNC_RESULT_SUCCESS && json && strstr(json, "from a minimal root");
  if (!ok) fprintf(stderr, "app: failed (pending %llu): %s\n", (unsigned long long)pending, sync_last_error_message());
  sync_string_free(json);
  sync_engine_destroy(engine);
  if (ok) printf("app: %s synced document %s\n", sync_get_version(), id);
  return ok ? 0 : 1;
}
