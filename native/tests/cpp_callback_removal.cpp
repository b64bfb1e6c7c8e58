// Unregistering while events are being delivered. A callback may call any sync_* function
// (sync_client.h), so it may unregister a callback — its own or another's — and a C++ one-shot
// callback may reset its own token. After the unregistration / the token's destruction the
// callback must not be called again, not even for the rest of the batch being delivered (the
// token frees its std::function, so a later call would be a use-after-free).
//
// The C-level check runs first and needs no freed memory to fail: a callback whose context stays
// alive counts its calls. Only when the library honours in-dispatch unregistration does the C++
// part run (otherwise it would exercise the use-after-free itself and could crash).
#include <string>

#include "cpp_common.hpp"

using SyncClient::callback_token;
using SyncClient::sync_engine;
using namespace cpptest;

static TestEnv env;

struct CState {
  CSyncEngine *engine;
  int first_calls = 0;
  int second_calls = 0;
  int second_calls_after_unregister = 0;
  bool unregistered = false;
  int unregister_result = -1;
};

static void second_cb(const SyncEventData *, void *context) {
  auto *s = static_cast<CState *>(context);
  s->second_calls++;
  if (s->unregistered) s->second_calls_after_unregister++;
}

static void first_cb(const SyncEventData *, void *context) {
  auto *s = static_cast<CState *>(context);
  s->first_calls++;
  if (!s->unregistered) {
    s->unregister_result = sync_engine_unregister_event_callback(s->engine, second_cb, s);
    s->unregistered = true;
  }
}

static bool c_level(sync_engine &e) {
  CState s;
  s.engine = e.handle();
  CHECK(sync_engine_register_event_callback(s.engine, first_cb, &s, -1) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_register_event_callback(s.engine, second_cb, &s, -1) == SYNC_RESULT_SUCCESS);
  // Local document events are queued before the call returns: three events, one batch.
  e.create_document(R"({"title":"c1"})");
  e.create_document(R"({"title":"c2"})");
  e.create_document(R"({"title":"c3"})");
  uint32_t n = e.process_events();
  CHECK(n == 3);
  CHECK(s.first_calls == 3);
  CHECK(s.unregister_result == SYNC_RESULT_SUCCESS);
  bool ok = s.second_calls_after_unregister == 0;
  if (!ok)
    fprintf(stderr,
            "sync_engine_process_events called a callback %d time(s) after sync_engine_unregister_event_callback "
            "returned (it delivers the whole batch to a snapshot of the registrations)\n",
            s.second_calls_after_unregister);
  CHECK(ok);
  sync_engine_unregister_event_callback(s.engine, first_cb, &s);
  return ok;
}

static void cpp_level(sync_engine &e) {
  // A resets B's token on its first event; B must not run afterwards.
  int a_calls = 0, b_calls = 0, b_calls_after = 0;
  bool b_gone = false;
  callback_token b_token;
  callback_token a_token = e.register_callback([&](const SyncEventData &) {
    a_calls++;
    if (!b_gone) {
      b_token.reset();
      b_gone = true;
    }
  });
  b_token = e.register_callback([&](const SyncEventData &) {
    b_calls++;
    if (b_gone) b_calls_after++;
  });

  // A one-shot callback that resets its own token (its last action: captures are not touched after it).
  int once_calls = 0;
  callback_token once;
  once = e.register_callback([&once, &once_calls](const SyncEventData &) {
    once_calls++;
    once.reset();
  });

  e.create_document(R"({"title":"p1"})");
  e.create_document(R"({"title":"p2"})");
  e.create_document(R"({"title":"p3"})");
  CHECK(e.process_events() == 3);
  CHECK(a_calls == 3);
  CHECK(b_calls_after == 0);
  CHECK(!b_token);
  CHECK(once_calls == 1);
  CHECK(!once);

  e.create_document(R"({"title":"p4"})");
  CHECK(e.process_events() == 1);
  CHECK(a_calls == 4);
  CHECK(b_calls_after == 0);
  CHECK(once_calls == 1);
}

int main() {
  test_env_load(&env);
  SyncEngineOptions o = sync_engine::default_options();
  o.start_offline = true;  // only local document events: exact counts
  {
    sync_engine e(test_db_path("dispatch"), env.server_url, unique_email("cpp-dispatch"), env.api_key, env.api_secret, o);
    try {
      if (c_level(e)) {
        cpp_level(e);
      } else {
        fprintf(stderr, "skipping the C++ part: with this library it would call a freed std::function\n");
      }
    } catch (const std::exception &ex) {
      fprintf(stderr, "unexpected exception: %s\n", ex.what());
      test_failures++;
    }
  }
  remove_db_dir();
  return test_finish("cpp_token_dispatch");
}
