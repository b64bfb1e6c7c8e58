// The reads check the file's schema version (PRAGMA user_version) before they read: a file of
// another version than the one their statements were generated for (contract/document_view.h)
// fails with SYNC_RESULT_DATABASE and a message naming both versions, never a misread or a crash.
// A file the engine's schema does not know fails sync_engine_open the same way. The version is
// bumped by hand from another process (set-user-version.mjs).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "contract/document_view.h"
#include "harness.h"
#include "test_hooks.h"

namespace {

const int kExpected = sync_client::document_view::kSchemaVersion;

void SetUserVersion(const char *path, int version) {
  std::string command = std::string("node " SET_USER_VERSION_SCRIPT " '") + path + "' " + std::to_string(version);
  REQUIRE(std::system(command.c_str()) == 0);
}

bool Names(const char *message, const std::string &text) { return std::strstr(message, text.c_str()) != nullptr; }

SyncEngineConfig OfflineConfig(const char *path) {
  SyncEngineConfig config;
  sync_engine_config_init(&config);
  config.database_url = path;
  config.server_url = "ws://127.0.0.1:1/ws";
  config.email = "schema@example.com";
  config.api_key = TEST_OFFLINE_API_KEY;
  config.api_secret = TEST_OFFLINE_API_SECRET;
  config.start_offline = true;
  return config;
}

}  // namespace

int main() {
  std::string path = test_db_path("schema_version");
  SyncEngineConfig config = OfflineConfig(path.c_str());

  // A file at the expected version reads as ever.
  SyncEngineHandle *engine = nullptr;
  REQUIRE(sync_engine_open(&config, &engine) == SYNC_RESULT_SUCCESS);
  char id[SYNC_DOCUMENT_ID_SIZE];
  REQUIRE(sync_engine_create_document(engine, "{\"title\":\"kept\"}", id) == SYNC_RESULT_SUCCESS);
  CHECK(sync_client_test_read_once(engine) == SYNC_RESULT_SUCCESS);

  // Bumped under a live engine: a new read connection refuses the file before its first statement.
  SetUserVersion(path.c_str(), 99);
  CHECK(sync_client_test_read_once(engine) == SYNC_RESULT_DATABASE);
  const char *message = sync_last_error_message();
  std::printf("rt_schema_version: %s\n", message);
  CHECK(Names(message, "schema version 99"));
  CHECK(Names(message, "reads schema version " + std::to_string(kExpected)));
  sync_engine_destroy(engine);

  // Opening a file of a version the engine does not know: refused, nothing opened.
  engine = nullptr;
  CHECK(sync_engine_open(&config, &engine) == SYNC_RESULT_DATABASE);
  CHECK(engine == nullptr);
  message = sync_last_error_message();
  std::printf("rt_schema_version: %s\n", message);
  CHECK(Names(message, "99"));
  CHECK(Names(message, std::to_string(kExpected)));

  // The file itself is intact: back at its version, it opens with its document.
  SetUserVersion(path.c_str(), kExpected);
  REQUIRE(sync_engine_open(&config, &engine) == SYNC_RESULT_SUCCESS);
  char *json = nullptr;
  CHECK(sync_engine_get_document(engine, id, &json) == SYNC_RESULT_SUCCESS && json && std::strstr(json, "\"kept\""));
  sync_string_free(json);
  sync_engine_destroy(engine);
  return test_finish("rt_schema_version");
}
