// The C ABI: argument checks, then a call into the engine's JS thread through the bridge.
// Exceptions never cross this boundary.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bridge.h"
#include "runtime.h"
#include "sync_client.h"
#include "utf8.h"

using sync_client::Bridge;
using sync_client::Event;
using sync_client::EventQueue;
using sync_client::Reply;

struct Registration {
  SyncEventCallback callback;
  void *context;
  int filter;
};

struct CSyncEngine {
  uint64_t id = 0;
  /** Held while callbacks run: another thread's unregister waits until they return (recursive: a callback may unregister). */
  std::recursive_mutex delivery_mutex;
  uint32_t call_timeout_ms = 10000;
  std::shared_ptr<EventQueue> events;
  std::mutex callbacks_mutex;
  std::vector<Registration> callbacks;
};

namespace {

thread_local std::string last_error;
constexpr uint32_t kMaxTimerMs = 2147483647u;
std::atomic<uint64_t> next_engine_id{1};

CSyncResult Fail(int code, const std::string &message) {
  last_error = message;
  return static_cast<CSyncResult>(code);
}

CSyncResult Ok() {
  last_error.clear();
  return SYNC_RESULT_SUCCESS;
}

/** Checks each named string argument: present and valid UTF-8. */
bool CheckStrings(std::initializer_list<std::pair<const char *, const char *>> args) {
  for (const auto &[name, value] : args) {
    if (!value) {
      last_error = std::string(name) + " is NULL";
      return false;
    }
    if (!sync_client::IsValidUtf8(value)) {
      last_error = std::string(name) + " is not valid UTF-8";
      return false;
    }
  }
  return true;
}

char *Duplicate(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

/**
 * Every entry point returning CSyncResult runs inside this: nothing thrown (an allocation failure
 * while copying arguments, say) ever crosses into the C caller.
 */
template <typename F>
CSyncResult Guard(F &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return Fail(SYNC_RESULT_UNKNOWN, "out of memory");
  } catch (const std::exception &e) {
    return Fail(SYNC_RESULT_UNKNOWN, e.what());
  } catch (...) {
    return Fail(SYNC_RESULT_UNKNOWN, "unknown error");
  }
}

/** Runs one engine operation; every public function funnels through here. */
template <typename OnSuccess>
CSyncResult Run(CSyncEngine *engine, const char *op, std::vector<std::string> args, OnSuccess &&onSuccess) {
  if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
  Reply r = Bridge::instance().call(op, engine->id, std::move(args), engine->call_timeout_ms);
  if (r.code != 0) return Fail(r.code, r.message.empty() ? "the operation failed" : r.message);
  return onSuccess(r);
}

CSyncResult Run(CSyncEngine *engine, const char *op, std::vector<std::string> args) {
  return Run(engine, op, std::move(args), [](const Reply &) { return Ok(); });
}

CSyncResult RunText(CSyncEngine *engine, const char *op, std::vector<std::string> args, char **out) {
  return Run(engine, op, std::move(args), [out](const Reply &r) {
    char *copy = Duplicate(r.text);
    if (!copy) return Fail(SYNC_RESULT_UNKNOWN, "out of memory");
    *out = copy;
    return Ok();
  });
}

bool StillRegistered(CSyncEngine *engine, const Registration &reg) {
  std::lock_guard<std::mutex> lock(engine->callbacks_mutex);
  for (const auto &r : engine->callbacks) {
    if (r.callback == reg.callback && r.context == reg.context && r.filter == reg.filter) return true;
  }
  return false;
}

std::string OptionsJson(const SyncEngineOptions &o) {
  std::string client = o.client_id ? std::string("\"") + o.client_id + "\"" : "null";
  return std::string("{") + "\"reconnect_min_ms\":" + std::to_string(o.reconnect_min_ms) + ",\"reconnect_max_ms\":" + std::to_string(o.reconnect_max_ms) +
         ",\"heartbeat_interval_ms\":" + std::to_string(o.heartbeat_interval_ms) + ",\"heartbeat_timeout_ms\":" + std::to_string(o.heartbeat_timeout_ms) +
         ",\"durability\":" + std::to_string(static_cast<int>(o.durability)) + ",\"client_id\":" + client +
         ",\"start_offline\":" + (o.start_offline ? "true" : "false") + "}";
}

/** A lowercase canonical UUID: 8-4-4-4-12 lowercase hex digits. */
bool IsUuid(const char *s) {
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s[36] == '\0';
}

/** CheckStrings for a document id, which must also be a lowercase canonical UUID. */
bool CheckId(const char *id) {
  if (!CheckStrings({{"id", id}})) return false;
  if (!IsUuid(id)) {
    last_error = "id must be a lowercase canonical UUID";
    return false;
  }
  return true;
}

}  // namespace

extern "C" {

SYNC_API const char *sync_get_version(void) { return SYNC_CLIENT_VERSION; }

SYNC_API void sync_string_free(char *str) { std::free(str); }

SYNC_API const char *sync_last_error_message(void) { return last_error.c_str(); }

SYNC_API void sync_set_log_callback(SyncLogCallback callback, void *context) {
  Bridge::instance().set_log_sink(reinterpret_cast<sync_client::LogSink>(callback), context);
}

SYNC_API void sync_engine_options_init(SyncEngineOptions *options) {
  if (!options) return;
  std::memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
  options->reconnect_min_ms = 250;
  options->reconnect_max_ms = 30000;
  options->heartbeat_interval_ms = 15000;
  options->heartbeat_timeout_ms = 10000;
  options->call_timeout_ms = 10000;
  options->event_queue_limit = 10000;
  options->durability = SYNC_DURABILITY_NORMAL;
}

SYNC_API struct CSyncEngine *sync_engine_create_with_options(const char *db_url, const char *server_url, const char *email, const char *api_key,
                                                             const char *api_secret, const SyncEngineOptions *options) {
  try {
    if (!CheckStrings({{"db_url", db_url}, {"server_url", server_url}, {"email", email}, {"api_key", api_key}, {"api_secret", api_secret}})) return nullptr;
    SyncEngineOptions o;
    sync_engine_options_init(&o);
    if (options) {
      if (options->struct_size < sizeof(size_t) || options->struct_size > sizeof o) {
        last_error = "options->struct_size is not a size this library knows (initialise with sync_engine_options_init)";
        return nullptr;
      }
      std::memcpy(&o, options, options->struct_size);
      o.struct_size = sizeof o;
    }
    if (o.client_id && !CheckStrings({{"options->client_id", o.client_id}})) return nullptr;
    if (o.call_timeout_ms == 0 || o.event_queue_limit == 0) {
      last_error = "call_timeout_ms and event_queue_limit must be positive";
      return nullptr;
    }
    if (o.durability != SYNC_DURABILITY_NORMAL && o.durability != SYNC_DURABILITY_FULL) {
      last_error = "durability must be SYNC_DURABILITY_NORMAL or SYNC_DURABILITY_FULL";
      return nullptr;
    }
    std::string why;
    if (!sync_client::EnsureRuntime(&why)) {
      last_error = why;
      return nullptr;
    }
    auto engine = std::make_unique<CSyncEngine>();
    engine->id = next_engine_id++;
    engine->call_timeout_ms = o.call_timeout_ms;
    engine->events = std::make_shared<EventQueue>(o.event_queue_limit);
    // Registered before the engine exists: its first events (connection attempts) must not be lost.
    Bridge::instance().add_queue(engine->id, engine->events);
    Reply r = Bridge::instance().call("create", engine->id, {db_url, server_url, email, api_key, api_secret, OptionsJson(o)}, o.call_timeout_ms);
    if (r.code != 0) {
      Bridge::instance().remove_queue(engine->id);
      if (r.code == SYNC_RESULT_TIMEOUT) Bridge::instance().call("destroy", engine->id, {}, 1000);
      last_error = r.message;
      return nullptr;
    }
    last_error.clear();
    return engine.release();
  } catch (const std::exception &e) {
    last_error = e.what();
  } catch (...) {
    last_error = "unknown error";
  }
  return nullptr;
}

SYNC_API struct CSyncEngine *sync_engine_create(const char *db_url, const char *server_url, const char *email, const char *api_key, const char *api_secret) {
  return sync_engine_create_with_options(db_url, server_url, email, api_key, api_secret, nullptr);
}

SYNC_API void sync_engine_destroy(struct CSyncEngine *engine) {
  if (!engine) return;
  try {
    Bridge::instance().call("destroy", engine->id, {}, 1000);
    Bridge::instance().remove_queue(engine->id);
  } catch (...) {
  }
  delete engine;
}

SYNC_API enum CSyncResult sync_engine_create_document(struct CSyncEngine *engine, const char *json, char out_id[37]) {
  return Guard([&]() -> CSyncResult {
    if (!out_id) return Fail(SYNC_RESULT_INVALID_INPUT, "out_id is NULL");
    out_id[0] = '\0';
    if (!CheckStrings({{"json", json}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "create_document", {json}, [out_id](const Reply &r) {
      if (r.text.size() != 36) return Fail(SYNC_RESULT_UNKNOWN, "the engine returned a malformed id");
      std::memcpy(out_id, r.text.c_str(), 37);
      return Ok();
    });

  });
}

SYNC_API enum CSyncResult sync_engine_create_document_with_id(struct CSyncEngine *engine, const char *id, const char *json) {
  return Guard([&]() -> CSyncResult {
    if (!CheckId(id) || !CheckStrings({{"json", json}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "create_document_with_id", {id, json});

  });
}

SYNC_API enum CSyncResult sync_engine_update_document(struct CSyncEngine *engine, const char *id, const char *json) {
  return Guard([&]() -> CSyncResult {
    if (!CheckId(id) || !CheckStrings({{"json", json}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "update_document", {id, json});

  });
}

SYNC_API enum CSyncResult sync_engine_patch_document(struct CSyncEngine *engine, const char *id, const char *patch_json) {
  return Guard([&]() -> CSyncResult {
    if (!CheckId(id) || !CheckStrings({{"patch_json", patch_json}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "patch_document", {id, patch_json});

  });
}

SYNC_API enum CSyncResult sync_engine_merge_document(struct CSyncEngine *engine, const char *id, const char *merge_json) {
  return Guard([&]() -> CSyncResult {
    if (!CheckId(id) || !CheckStrings({{"merge_json", merge_json}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "merge_document", {id, merge_json});

  });
}

SYNC_API enum CSyncResult sync_engine_delete_document(struct CSyncEngine *engine, const char *id) {
  return Guard([&]() -> CSyncResult {
    if (!CheckId(id)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "delete_document", {id});

  });
}

SYNC_API enum CSyncResult sync_engine_get_document(struct CSyncEngine *engine, const char *id, char **out_json) {
  return Guard([&]() -> CSyncResult {
    if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = nullptr;
    if (!CheckId(id)) return SYNC_RESULT_INVALID_INPUT;
    return RunText(engine, "get_document", {id}, out_json);

  });
}

SYNC_API enum CSyncResult sync_engine_get_all_documents(struct CSyncEngine *engine, char **out_json) {
  return Guard([&]() -> CSyncResult {
    if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = nullptr;
    return RunText(engine, "get_all_documents", {}, out_json);

  });
}

SYNC_API enum CSyncResult sync_engine_count_documents(struct CSyncEngine *engine, uint64_t *out_count) {
  return Guard([&]() -> CSyncResult {
    if (!out_count) return Fail(SYNC_RESULT_INVALID_INPUT, "out_count is NULL");
    *out_count = 0;
    return Run(engine, "count_documents", {}, [out_count](const Reply &r) {
      *out_count = static_cast<uint64_t>(r.number);
      return Ok();
    });

  });
}

SYNC_API enum CSyncResult sync_engine_count_pending(struct CSyncEngine *engine, uint64_t *out_count) {
  return Guard([&]() -> CSyncResult {
    if (!out_count) return Fail(SYNC_RESULT_INVALID_INPUT, "out_count is NULL");
    *out_count = 0;
    return Run(engine, "count_pending", {}, [out_count](const Reply &r) {
      *out_count = static_cast<uint64_t>(r.number);
      return Ok();
    });

  });
}

SYNC_API enum CSyncResult sync_engine_is_connected(struct CSyncEngine *engine, bool *out_connected) {
  return Guard([&]() -> CSyncResult {
    if (!out_connected) return Fail(SYNC_RESULT_INVALID_INPUT, "out_connected is NULL");
    *out_connected = false;
    return Run(engine, "is_connected", {}, [out_connected](const Reply &r) {
      *out_connected = r.flag;
      return Ok();
    });

  });
}

SYNC_API enum CSyncResult sync_engine_flush(struct CSyncEngine *engine, uint32_t timeout_ms) {
  return Guard([&]() -> CSyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    // JS timers hold at most 2^31-1 ms; the bridge waits a little longer than the engine's own timeout.
    uint32_t engine_ms = timeout_ms > kMaxTimerMs ? kMaxTimerMs : timeout_ms;
    uint64_t wait_ms = static_cast<uint64_t>(engine_ms) + engine->call_timeout_ms;
    Reply r = Bridge::instance().call("flush", engine->id, {std::to_string(engine_ms)},
                                      static_cast<uint32_t>(wait_ms > UINT32_MAX ? UINT32_MAX : wait_ms));
    if (r.code != 0) return Fail(r.code, r.message);
    return Ok();
  });
}

SYNC_API enum CSyncResult sync_engine_set_online(struct CSyncEngine *engine, bool online) {
  return Guard([&]() -> CSyncResult { return Run(engine, "set_online", {online ? "1" : "0"}); });
}

SYNC_API enum CSyncResult sync_engine_undo(struct CSyncEngine *engine, const char *id) {
  return Guard([&]() -> CSyncResult {
    if (!CheckId(id)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "undo", {id});

  });
}

SYNC_API enum CSyncResult sync_engine_redo(struct CSyncEngine *engine, const char *id) {
  return Guard([&]() -> CSyncResult {
    if (!CheckId(id)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "redo", {id});

  });
}

SYNC_API enum CSyncResult sync_engine_get_history(struct CSyncEngine *engine, const char *id, char **out_json) {
  return Guard([&]() -> CSyncResult {
    if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = nullptr;
    if (!CheckId(id)) return SYNC_RESULT_INVALID_INPUT;
    return RunText(engine, "get_history", {id}, out_json);

  });
}

SYNC_API enum CSyncResult sync_engine_get_conflicts(struct CSyncEngine *engine, char **out_json) {
  return Guard([&]() -> CSyncResult {
    if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = nullptr;
    return RunText(engine, "get_conflicts", {}, out_json);

  });
}

SYNC_API enum CSyncResult sync_engine_register_event_callback(struct CSyncEngine *engine, SyncEventCallback callback, void *context, int filter) {
  return Guard([&]() -> CSyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    if (!callback) return Fail(SYNC_RESULT_INVALID_INPUT, "callback is NULL");
    if (filter < -1 || filter > SYNC_EVENT_CONNECTION_SUCCEEDED) return Fail(SYNC_RESULT_INVALID_INPUT, "filter must be -1 or a SyncEventType");
    std::lock_guard<std::mutex> lock(engine->callbacks_mutex);
    engine->callbacks.push_back({callback, context, filter});
    return Ok();

  });
}

SYNC_API enum CSyncResult sync_engine_unregister_event_callback(struct CSyncEngine *engine, SyncEventCallback callback, void *context) {
  return Guard([&]() -> CSyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    if (!callback) return Fail(SYNC_RESULT_INVALID_INPUT, "callback is NULL");
    std::lock_guard<std::mutex> lock(engine->callbacks_mutex);
    auto &v = engine->callbacks;
    size_t before = v.size();
    v.erase(std::remove_if(v.begin(), v.end(), [&](const Registration &r) { return r.callback == callback && r.context == context; }), v.end());
    if (v.size() == before) return Fail(SYNC_RESULT_NOT_FOUND, "no such callback registration");
    return Ok();

  });
}

SYNC_API enum CSyncResult sync_engine_process_events(struct CSyncEngine *engine, uint32_t *processed) {
  if (processed) *processed = 0;
  if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
  try {
    std::lock_guard<std::recursive_mutex> delivering(engine->delivery_mutex);
    EventQueue::Batch batch = engine->events->drain();
    std::vector<Registration> callbacks;
    {
      std::lock_guard<std::mutex> lock(engine->callbacks_mutex);
      callbacks = engine->callbacks;
    }
    uint32_t count = 0;
    auto deliver = [&](const Event &e) {
      SyncEventData data;
      data.event_type = static_cast<SyncEventType>(e.type);
      data.document_id = e.document_id ? e.document_id->c_str() : nullptr;
      data.title = e.title ? e.title->c_str() : nullptr;
      data.content = e.content ? e.content->c_str() : nullptr;
      data.error = e.error ? e.error->c_str() : nullptr;
      data.numeric_data = e.numeric;
      data.boolean_data = e.flag;
      for (const auto &reg : callbacks) {
        if (reg.filter != -1 && reg.filter != e.type) continue;
        // A callback may unregister itself or another one mid-batch: never call a removed one.
        if (!StillRegistered(engine, reg)) continue;
        reg.callback(&data, reg.context);
      }
      count++;
    };
    if (batch.dropped > 0) {
      Event overflow;
      overflow.type = SYNC_EVENT_SYNC_ERROR;
      overflow.error = "event queue overflow: " + std::to_string(batch.dropped) + " events dropped (call sync_engine_process_events more often)";
      overflow.numeric = batch.dropped;
      deliver(overflow);
    }
    for (const Event &e : batch.events) deliver(e);
    if (processed) *processed = count;
    return Ok();
  } catch (const std::exception &e) {
    return Fail(SYNC_RESULT_UNKNOWN, e.what());
  } catch (...) {
    return Fail(SYNC_RESULT_UNKNOWN, "an event callback threw");
  }
}

SYNC_API enum CSyncResult sync_engine_set_event_notify(struct CSyncEngine *engine, SyncNotifyCallback notify, void *context) {
  return Guard([&]() -> CSyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    engine->events->set_notify(notify, context);
    return Ok();

  });
}

SYNC_API int sync_engine_event_fd(struct CSyncEngine *engine) {
  if (!engine) {
    Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    return -1;
  }
  int fd = engine->events->fd();
  if (fd < 0) Fail(SYNC_RESULT_UNKNOWN, "no event fd (eventfd failed)");
  return fd;
}

}  // extern "C"

#include "test_hooks.h"

extern "C" SYNC_API enum CSyncResult sync_client_test_call(struct CSyncEngine *engine, const char *op, const char *arg) {
  return Guard([&]() -> CSyncResult {
    // Hooks that end or stall the runtime: only for the library's own tests, which set this variable.
    const char *enabled = std::getenv("SYNC_CLIENT_TEST_HOOKS");
    if (!enabled || std::strcmp(enabled, "1") != 0) return Fail(SYNC_RESULT_NOT_INITIALIZED, "test hooks are disabled");
    if (!CheckStrings({{"op", op}})) return SYNC_RESULT_INVALID_INPUT;
    if (std::strcmp(op, "test_process_exit") != 0 && std::strcmp(op, "test_block") != 0) return Fail(SYNC_RESULT_INVALID_INPUT, "unknown test hook");
    return Run(engine, op, {arg ? arg : ""});
  });
}
