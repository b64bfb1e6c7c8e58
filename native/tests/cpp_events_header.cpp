// sync_client_events.h on its own (as the seed's C++ examples include it) brings the wrapper, the
// `SyncEngine` alias and get_event_name().
#include "sync_client_events.h"  // the only SDK header this file includes

#include <cstdio>
#include <cstring>
#include <unistd.h>
#include <string>
#include <type_traits>

extern "C" {
#include "harness.h"  // the fixture's env and CHECK (C)
}

static_assert(std::is_same_v<SyncEngine, SyncClient::sync_engine>, "SyncEngine is the wrapper's engine");

static bool name_is(int type, const char *expected) {
  bool ok = std::strcmp(get_event_name(type), expected) == 0 && std::strcmp(SyncClient::get_event_name(type), expected) == 0 &&
            std::strcmp(sync_event_type_name(type), expected) == 0;
  if (!ok) fprintf(stderr, "event %d: got \"%s\", expected \"%s\"\n", type, get_event_name(type), expected);
  return ok;
}

int main() {
  TestEnv env;
  test_env_load(&env);

  CHECK(name_is(SYNC_EVENT_DOCUMENT_CREATED, "DocumentCreated"));
  CHECK(name_is(SYNC_EVENT_DOCUMENT_UPDATED, "DocumentUpdated"));
  CHECK(name_is(SYNC_EVENT_DOCUMENT_DELETED, "DocumentDeleted"));
  CHECK(name_is(SYNC_EVENT_SYNC_STARTED, "SyncStarted"));
  CHECK(name_is(SYNC_EVENT_SYNC_COMPLETED, "SyncCompleted"));
  CHECK(name_is(SYNC_EVENT_SYNC_ERROR, "SyncError"));
  CHECK(name_is(SYNC_EVENT_CONFLICT_DETECTED, "ConflictDetected"));
  CHECK(name_is(SYNC_EVENT_CONNECTION_LOST, "ConnectionLost"));
  CHECK(name_is(SYNC_EVENT_CONNECTION_ATTEMPTED, "ConnectionAttempted"));
  CHECK(name_is(SYNC_EVENT_CONNECTION_SUCCEEDED, "ConnectionSucceeded"));
  CHECK(name_is(99, "Unknown"));
  CHECK(name_is(-1, "Unknown"));
  CHECK(name_is(SYNC_EVENT_ATTACHMENT_PROGRESS, "AttachmentProgress"));
  CHECK(name_is(SYNC_EVENT_ATTACHMENT_COMPLETED, "AttachmentCompleted"));
  CHECK(name_is(SYNC_EVENT_ATTACHMENT_FAILED, "AttachmentFailed"));
  CHECK(name_is(13, "Unknown"));
  CHECK(SyncEngine::get_version() == SYNC_CLIENT_VERSION);

  // The alias in use, as the seed's examples use it: an engine, a callback, process_events.
  try {
    SyncEngine engine(test_db_path("events-header"), env.server_url, "cpp-events-header@example.com", env.api_key, env.api_secret);
    std::string seen;
    auto token = engine.register_callback([&](const SyncEventData *e, void *) {
      if (e->event_type == SYNC_EVENT_DOCUMENT_CREATED) seen = get_event_name(e->event_type);
    });
    engine.create_document(R"({"title":"named"})");
    double deadline = test_now_ms() + 5000;
    while (seen.empty() && test_now_ms() < deadline) engine.process_events();
    CHECK(seen == "DocumentCreated");
  } catch (const SyncClient::sync_exception &e) {
    fprintf(stderr, "sync_exception %d: %s\n", e.code(), e.what());
    test_failures++;
  }
  {
    // This process's database directory (harness.c's test_db_path() never removes it).
    std::string db = test_db_path("events-header");
    std::string dir = db.substr(0, db.rfind('/'));
    std::remove(db.c_str());
    for (const char *suffix : {"-wal", "-shm", "-journal", "-lock"}) std::remove((db + suffix).c_str());
    rmdir(dir.c_str());
  }
  return test_finish("cpp_events_header");
}
