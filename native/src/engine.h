// The objects behind the C API's opaque handles.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "document_reader.h"
#include "event_queue.h"
#include "published_state.h"
#include "sync_client.h"

struct SyncListener {
  CSyncEngine *engine;
  SyncEventCallback callback;
  void *context;
  int filter;
  /** Set under the engine's listeners_mutex: a delivery already holding this listener skips it. */
  bool removed = false;
};

struct CSyncEngine {
  uint64_t id = 0;
  uint32_t call_timeout_ms = 10000;
  std::shared_ptr<sync_client::EventQueue> events;
  /** Counts and connection state, as the engine's thread last published them. */
  std::shared_ptr<sync_client::PublishedState> state;
  std::shared_ptr<sync_client::DocumentReader> reader;
  /** Held while callbacks run: another thread's removal waits until they return (recursive: a callback may remove). */
  std::recursive_mutex delivery_mutex;
  std::mutex listeners_mutex;
  /** Shared with a running delivery's snapshot, so a listener removed mid-batch stays readable until the batch ends. */
  std::vector<std::shared_ptr<SyncListener>> listeners;
};
