// The Node-API bridge between C threads and the engine's JavaScript thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "event_queue.h"
#include "op_call.h"
#include "published_state.h"

namespace sync_client {

/** Memory from malloc, handed to the C caller as it is (sync_bytes_free frees it). */
using MallocBytes = std::unique_ptr<uint8_t, decltype(&std::free)>;

/**
 * The JS side's answer to one call; `code` is a SyncResult value; `text` or `bytes` the value it
 * answered, if any. Move-only: `bytes` (an attachment, up to a gigabyte) is copied once, from the
 * JS Buffer into memory the C caller then owns.
 */
struct Reply {
  int code = 0;
  std::string message;
  bool has_text = false;
  std::string text;
  bool has_bytes = false;
  /** Never null when has_bytes (a 0-byte answer is a 1-byte allocation), so NULL always means "no answer" to a C caller. */
  MallocBytes bytes{nullptr, &std::free};
  size_t bytes_length = 0;
};

using LogSink = void (*)(int level, const char *message, void *context);

/** Why a sync_* call made on the runtime's own thread (from a notify or log callback) fails. */
extern const char kOnRuntimeThreadMessage[];

/**
 * Process-wide. C threads call `call()`, which queues the request on a thread-safe function and
 * waits for the JS answer (or the timeout: the request stays valid, and a late answer is dropped).
 * JS pushes events with `pushEvent`, routed to the engine's EventQueue, and publishes the engine's
 * counts with `publishCounts` into its PublishedState.
 */
class Bridge {
 public:
  static Bridge &instance();

  /** Called on the JS thread by the host script with its dispatch function. */
  void start(Napi::Env env, Napi::Function dispatch);
  bool started() const { return started_.load(); }
  /** Releases the thread-safe function so the runtime's event loop can end. */
  void stop();

  /** Runs `op` for `engine` on the JS thread: dispatch(op.name, engine, {arguments as one object}). */
  Reply call(OpCall op, uint64_t engine, uint32_t timeout_ms);

  /** Called once on the runtime's thread: calls from it fail fast instead of waiting on themselves. */
  static void mark_runtime_thread();
  static bool on_runtime_thread_now();

  /** Where the engine's events and published state go; attached before the engine exists, so its first events are kept. */
  void attach(uint64_t engine, std::shared_ptr<EventQueue> queue, std::shared_ptr<PublishedState> state);
  void detach(uint64_t engine);
  void push_event(uint64_t engine, Event event);
  void publish_counts(uint64_t engine, uint64_t documents, uint64_t pending);
  /** Calls queued for the JS thread that it has not picked up yet. */
  bool calls_waiting() const { return waiting_.load(std::memory_order_relaxed) > 0; }
  /** The JS thread picked up a queued call. */
  void picked_up() { waiting_.fetch_sub(1, std::memory_order_relaxed); }

  void set_log_sink(LogSink sink, void *context);
  void log(int level, const std::string &message);

 private:
  Bridge() = default;
  std::mutex mutex_;
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  /** Calls queued and not yet picked up by the JS thread (Dispatch): what the engines' slices yield to. */
  std::atomic<int> waiting_{0};
  struct Channel {
    std::shared_ptr<EventQueue> queue;
    std::shared_ptr<PublishedState> state;
  };
  /** The channel of `engine`, or an empty one when it is not attached. */
  Channel channel(uint64_t engine);
  std::unordered_map<uint64_t, Channel> channels_;
  std::mutex log_mutex_;
  LogSink log_sink_ = nullptr;
  void *log_context_ = nullptr;
};

/** The binding's exports: start(dispatch), pushEvent(...), publishCounts(engine, documents, pending), callsWaiting(), log(level, message). */
Napi::Object InitBridge(Napi::Env env, Napi::Object exports);

}  // namespace sync_client
