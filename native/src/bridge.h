// The Node-API bridge between C threads and the engine's JavaScript thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "event_queue.h"

namespace sync_client {

/** The JS side's answer to one call; `code` is a CSyncResult value. */
struct Reply {
  int code = 0;
  std::string message;
  bool has_text = false;
  std::string text;
  int64_t number = 0;
  bool flag = false;
};

using LogSink = void (*)(int level, const char *message, void *context);

/**
 * Process-wide. C threads call `call()`, which queues the request on a thread-safe function and
 * waits for the JS answer (or the timeout: the request stays valid, and a late answer is dropped).
 * JS pushes events with `pushEvent`, routed to the engine's EventQueue.
 */
class Bridge {
 public:
  static Bridge &instance();

  /** Called on the JS thread by the host script with its dispatch function. */
  void start(Napi::Env env, Napi::Function dispatch);
  bool started() const { return started_.load(); }
  /** Releases the thread-safe function so the runtime's event loop can end. */
  void stop();

  Reply call(const std::string &op, uint64_t engine, std::vector<std::string> args, uint32_t timeout_ms);

  /** Called once on the runtime's thread: calls from it fail fast instead of waiting on themselves. */
  static void mark_runtime_thread();
  static bool on_runtime_thread_now();

  void add_queue(uint64_t engine, std::shared_ptr<EventQueue> queue);
  void remove_queue(uint64_t engine);
  void push_event(uint64_t engine, Event event);

  void set_log_sink(LogSink sink, void *context);
  void log(int level, const std::string &message);

 private:
  Bridge() = default;
  std::mutex mutex_;
  Napi::ThreadSafeFunction tsfn_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};
  std::unordered_map<uint64_t, std::shared_ptr<EventQueue>> queues_;
  std::mutex log_mutex_;
  LogSink log_sink_ = nullptr;
  void *log_context_ = nullptr;
};

/** The binding's exports: start(dispatch), pushEvent(...), log(level, message). */
Napi::Object InitBridge(Napi::Env env, Napi::Object exports);

}  // namespace sync_client
