// Event delivery: listeners, process_events on the caller's thread, notify callback and event fd.
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api_support.h"

using sync_client::Event;
using sync_client::EventQueue;
using sync_client::Fail;
using sync_client::Guard;
using sync_client::Ok;

namespace {

bool Removed(CSyncEngine *engine, const SyncListener &listener) {
  std::lock_guard<std::mutex> lock(engine->listeners_mutex);
  return listener.removed;
}

/** Removes the listeners `which` selects; returns how many. Waits for a delivery running on another thread. */
template <typename Which>
size_t RemoveListeners(CSyncEngine *engine, Which &&which) {
  std::lock_guard<std::recursive_mutex> delivering(engine->delivery_mutex);
  std::lock_guard<std::mutex> lock(engine->listeners_mutex);
  auto &all = engine->listeners;
  size_t count = 0;
  for (const auto &l : all) {
    if (which(*l)) {
      l->removed = true;
      count++;
    }
  }
  all.erase(std::remove_if(all.begin(), all.end(), [](const std::shared_ptr<SyncListener> &l) { return l->removed; }), all.end());
  return count;
}

void Deliver(CSyncEngine *engine, const std::vector<std::shared_ptr<SyncListener>> &listeners, const Event &e) {
  SyncEventData data;
  data.event_type = static_cast<SyncEventType>(e.type);
  data.document_id = e.document_id ? e.document_id->c_str() : nullptr;
  data.title = e.title ? e.title->c_str() : nullptr;
  data.content = e.content ? e.content->c_str() : nullptr;
  data.error = e.error ? e.error->c_str() : nullptr;
  data.numeric_data = e.numeric;
  data.boolean_data = e.flag;
  for (const auto &listener : listeners) {
    if (listener->filter != SYNC_EVENT_ALL && listener->filter != e.type) continue;
    // A callback may remove itself or another listener mid-batch: never call a removed one.
    if (Removed(engine, *listener)) continue;
    listener->callback(&data, listener->context);
  }
}

}  // namespace

extern "C" {

SYNC_API CSyncResult sync_engine_add_listener(CSyncEngine *engine, int filter, SyncEventCallback callback, void *context, SyncListener **out) {
  return Guard([&]() -> CSyncResult {
    if (out) *out = nullptr;
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    if (!callback) return Fail(SYNC_RESULT_INVALID_INPUT, "callback is NULL");
    if (filter < SYNC_EVENT_ALL || filter > SYNC_EVENT_CONNECTION_SUCCEEDED) {
      return Fail(SYNC_RESULT_INVALID_INPUT, "filter must be SYNC_EVENT_ALL or a SyncEventType");
    }
    auto listener = std::make_shared<SyncListener>(SyncListener{engine, callback, context, filter});
    std::lock_guard<std::mutex> lock(engine->listeners_mutex);
    engine->listeners.push_back(listener);
    if (out) *out = listener.get();
    return Ok();
  });
}

SYNC_API void sync_listener_remove(SyncListener *listener) {
  if (!listener) return;
  try {
    RemoveListeners(listener->engine, [listener](const SyncListener &l) { return &l == listener; });
  } catch (...) {
    // Only a failing mutex can throw here; there is nothing to report it to.
  }
}

SYNC_API enum CSyncResult sync_engine_register_event_callback(struct CSyncEngine *engine, SyncEventCallback callback, void *context, int filter) {
  return sync_engine_add_listener(engine, filter, callback, context, nullptr);
}

SYNC_API enum CSyncResult sync_engine_unregister_event_callback(struct CSyncEngine *engine, SyncEventCallback callback, void *context) {
  return Guard([&]() -> CSyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    if (!callback) return Fail(SYNC_RESULT_INVALID_INPUT, "callback is NULL");
    size_t removed = RemoveListeners(engine, [&](const SyncListener &l) { return l.callback == callback && l.context == context; });
    if (removed == 0) return Fail(SYNC_RESULT_NOT_FOUND, "no such callback registration");
    return Ok();
  });
}

SYNC_API enum CSyncResult sync_engine_process_events(struct CSyncEngine *engine, uint32_t *processed) {
  if (processed) *processed = 0;
  return Guard([&]() -> CSyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    std::lock_guard<std::recursive_mutex> delivering(engine->delivery_mutex);
    EventQueue::Batch batch = engine->events->drain();
    std::vector<std::shared_ptr<SyncListener>> listeners;
    {
      std::lock_guard<std::mutex> lock(engine->listeners_mutex);
      listeners = engine->listeners;
    }
    uint32_t count = 0;
    if (batch.dropped > 0) {
      Event overflow;
      overflow.type = SYNC_EVENT_SYNC_ERROR;
      overflow.error = "event queue overflow: " + std::to_string(batch.dropped) + " events dropped (call sync_engine_process_events more often)";
      overflow.numeric = batch.dropped;
      Deliver(engine, listeners, overflow);
      count++;
    }
    for (const Event &e : batch.events) {
      Deliver(engine, listeners, e);
      count++;
    }
    if (processed) *processed = count;
    return Ok();
  });
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
