// The objects behind the C API's opaque handles.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "document_reader.h"
#include "event_queue.h"
#include "published_state.h"
#include "query_cache.h"
#include "sync_client.h"

struct SyncListener {
  SyncEngineHandle *engine;
  SyncEventCallback callback;
  void *context;
  int filter;
  /** Set under the engine's listeners_mutex: a delivery already holding this listener skips it. */
  bool removed = false;
};

struct SyncLiveQuery {
  SyncEngineHandle *engine;
  /** The engine's name for it: its diffs arrive as kLiveQueryEvent events with numeric = id. */
  uint32_t id;
  SyncQueryCallback callback;
  void *context;
  /** Set under the engine's listeners_mutex, like SyncListener::removed. */
  bool closed = false;
};

/** What a SyncEngineHandle points to (the tag keeps the first version's name: sync_client.h). */
struct CSyncEngine {
  uint64_t id = 0;
  uint32_t call_timeout_ms = 10000;
  uint32_t query_time_limit_ms = 2000;
  std::shared_ptr<sync_client::EventQueue> events;
  /** Counts and connection state, as the engine's thread last published them. */
  std::shared_ptr<sync_client::PublishedState> state;
  std::shared_ptr<sync_client::DocumentReader> reader;
  /** Held while callbacks run: another thread's removal waits until they return (recursive: a callback may remove). */
  std::recursive_mutex delivery_mutex;
  std::mutex listeners_mutex;
  /** Shared with a running delivery's snapshot, so a listener removed mid-batch stays readable until the batch ends. */
  std::vector<std::shared_ptr<SyncListener>> listeners;
  /** Open live queries (under listeners_mutex), shared with a running delivery like the listeners. */
  std::vector<std::shared_ptr<SyncLiveQuery>> live_queries;
  uint32_t next_live_query_id = 1;
  sync_client::QueryCache queries;
};
