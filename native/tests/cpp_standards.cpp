// The wrapper compiled at each C++ standard the SDK supports (11, 14, 17, 20) with
// -Wall -Wextra -Wpedantic -Werror, by g++ and clang++ (cpp_standard_test.sh), and run: an offline
// engine, callbacks in both forms and as a C function, kept, dropped and scoped registrations,
// removal, and sync_exception codes. Needs no server; C++11 only, on purpose.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <type_traits>

#include "sync_client_events.h"
#include "test_credentials.h"

static int failures = 0;
#define CHECK(cond)                                                                   \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

struct Counter {
  int created = 0;
};

static void count_created(const SyncEventData *event, void *context) {
  if (event->event_type == SYNC_EVENT_DOCUMENT_CREATED) static_cast<Counter *>(context)->created++;
}

template <typename F>
static int code_of(F f) {
  try {
    f();
  } catch (const SyncClient::sync_exception &e) {
    return e.code();
  }
  return SYNC_RESULT_SUCCESS;
}

int main() {
  char dir[] = "/tmp/sync-cpp-standard-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  const std::string db = std::string(dir) + "/standard.db";
  int exit_code = 1;
  {
    SyncEngineConfig config = SyncClient::sync_engine::default_config();
    config.database_url = db.c_str();
    config.server_url = "ws://127.0.0.1:1/ws";
    config.email = "cpp-standard@example.com";
    config.api_key = TEST_OFFLINE_API_KEY;
    config.api_secret = TEST_OFFLINE_API_SECRET;
    config.start_offline = true;
    SyncClient::sync_engine engine(config);

    int reference_form = 0, pointer_form = 0, dropped = 0, scoped_calls = 0;
    Counter counter;
    SyncClient::callback_handle kept = engine.register_callback([&reference_form](const SyncEventData &) { reference_form++; });
    engine.register_callback([&pointer_form](const SyncEventData *event, void *context) { pointer_form += event && !context; });
    engine.register_callback([&dropped](const SyncEventData &) { dropped++; }, SYNC_EVENT_DOCUMENT_CREATED);
    SyncClient::callback_handle c_form = engine.register_callback(count_created, &counter);
    {
      SyncClient::scoped_callback scoped(engine.register_callback([&scoped_calls](const SyncEventData &) { scoped_calls++; }));
      engine.create_document("{\"title\":\"one\"}");
      CHECK(engine.process_events() == 1);
    }
    kept.remove();
    engine.create_document("{\"title\":\"two\"}");
    CHECK(engine.process_events() == 1);
    CHECK(reference_form == 1);  // removed before "two"
    CHECK(pointer_form == 2);
    CHECK(dropped == 2);         // its handle was never kept
    CHECK(counter.created == 2);
    CHECK(scoped_calls == 1);    // its scope ended before "two"
    CHECK(static_cast<bool>(c_form) && !kept);
    CHECK(engine.count_documents() == 2);
    CHECK(code_of([&engine] { engine.get_document("not-a-uuid"); }) == SYNC_RESULT_INVALID_INPUT);
    CHECK(code_of([&config] { SyncClient::sync_engine second(config); }) == SYNC_RESULT_LOCKED);
    CHECK(std::string(SyncClient::get_event_name(SYNC_EVENT_CONFLICT_DETECTED)) == "ConflictDetected");
#ifndef SYNC_NO_COMPAT
    // The original examples' names: the same class and function.
    CHECK((std::is_same<SyncEngine, SyncClient::sync_engine>::value));
    CHECK(std::string(get_event_name(SYNC_EVENT_CONFLICT_DETECTED)) == "ConflictDetected");
    CHECK(Success == SYNC_RESULT_SUCCESS);
#endif
    CHECK(SyncClient::sync_engine::get_version() == SYNC_CLIENT_VERSION);
    exit_code = failures == 0 ? 0 : 1;
  }
  const char *suffixes[] = {"", "-wal", "-shm"};
  for (const char *suffix : suffixes) unlink((db + suffix).c_str());
  rmdir(dir);
  std::printf("cpp_standards (__cplusplus %ld): %d failed\n", static_cast<long>(__cplusplus), failures);
  return exit_code;
}
