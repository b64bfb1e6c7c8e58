// Event delivery: listeners and live queries, process_events on the caller's thread, notify callback and event fd.
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

bool Removed(SyncEngineHandle *engine, const SyncListener &listener) {
  std::lock_guard<std::mutex> lock(engine->listeners_mutex);
  return listener.removed;
}

/** Removes the listeners `which` selects; returns how many. Waits for a delivery running on another thread. */
template <typename Which>
size_t RemoveListeners(SyncEngineHandle *engine, Which &&which) {
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

void Deliver(SyncEngineHandle *engine, const std::vector<std::shared_ptr<SyncListener>> &listeners, const Event &e) {
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

/** A live query's diff to its callback, unless it was closed (in this batch too). */
void DeliverDiff(SyncEngineHandle *engine, const std::vector<std::shared_ptr<SyncLiveQuery>> &queries, const Event &e) {
  for (const auto &query : queries) {
    if (query->id != e.numeric) continue;
    {
      std::lock_guard<std::mutex> lock(engine->listeners_mutex);
      if (query->closed) return;
    }
    query->callback(e.content ? e.content->c_str() : "{}", query->context);
    return;
  }
}

}  // namespace

size_t sync_client::RemoveCallbackListeners(SyncEngineHandle *engine, SyncEventCallback callback, void *context) {
  return RemoveListeners(engine, [&](const SyncListener &l) { return l.callback == callback && l.context == context; });
}

extern "C" {

SYNC_API SyncResult sync_engine_add_listener(SyncEngineHandle *engine, int filter, SyncEventCallback callback, void *context, SyncListener **out) {
  return Guard([&]() -> SyncResult {
    if (out) *out = nullptr;
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    if (!callback) return Fail(SYNC_RESULT_INVALID_INPUT, "callback is NULL");
    if (filter < SYNC_EVENT_ALL || filter > SYNC_EVENT_ATTACHMENT_FAILED) {
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

SYNC_API SyncResult sync_engine_process_events(SyncEngineHandle *engine, uint32_t *processed) {
  if (processed) *processed = 0;
  return Guard([&]() -> SyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    std::lock_guard<std::recursive_mutex> delivering(engine->delivery_mutex);
    EventQueue::Batch batch = engine->events->drain();
    std::vector<std::shared_ptr<SyncListener>> listeners;
    std::vector<std::shared_ptr<SyncLiveQuery>> queries;
    {
      std::lock_guard<std::mutex> lock(engine->listeners_mutex);
      listeners = engine->listeners;
      queries = engine->live_queries;
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
      if (e.type == sync_client::ops::kLiveQueryEvent) DeliverDiff(engine, queries, e);
      else Deliver(engine, listeners, e);
      count++;
    }
    if (processed) *processed = count;
    return Ok();
  });
}

SYNC_API SyncResult sync_engine_set_event_notify(SyncEngineHandle *engine, SyncNotifyCallback notify, void *context) {
  return Guard([&]() -> SyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    engine->events->set_notify(notify, context);
    return Ok();
  });
}

SYNC_API SyncResult sync_engine_get_event_fd(SyncEngineHandle *engine, int *out_fd) {
  return Guard([&]() -> SyncResult {
    if (!out_fd) return Fail(SYNC_RESULT_INVALID_INPUT, "out_fd is NULL");
    *out_fd = -1;
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    int fd = engine->events->fd();
    if (fd < 0) return Fail(SYNC_RESULT_UNKNOWN, "no event fd (eventfd failed)");
    *out_fd = fd;
    return Ok();
  });
}

}  // extern "C"
