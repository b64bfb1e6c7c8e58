// sync_client.hpp — header-only C++17 wrapper over sync_client.h.
//
// sync_engine owns a CSyncEngine (move-only RAII). Every failing call throws sync_exception carrying
// the C result code. Callbacks are std::function objects reached through a static trampoline that
// catches everything: no exception ever crosses into the C library. The threading contract of
// sync_client.h applies unchanged: callbacks run inside process_events() on the calling thread.
#ifndef SYNC_CLIENT_HPP
#define SYNC_CLIENT_HPP

#if __cplusplus < 201703L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201703L)
#error "sync_client.hpp needs C++17: link sync_client::sync_client through CMake (it carries cxx_std_17) or compile with -std=c++17"
#endif

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "sync_client.h"

namespace SyncClient {

class sync_exception : public std::runtime_error {
 public:
  sync_exception(CSyncResult code, const std::string &message) : std::runtime_error(message), code_(code) {}
  CSyncResult code() const noexcept { return code_; }

 private:
  CSyncResult code_;
};

/** Throws sync_exception for any result but success, with the thread's last error message. */
inline void check(CSyncResult result) {
  if (result != SYNC_RESULT_SUCCESS) throw sync_exception(result, sync_last_error_message());
}

namespace detail {

/** Takes ownership of a library-allocated string. */
inline std::string take(char *text) {
  std::unique_ptr<char, void (*)(char *)> owned(text, sync_string_free);
  return owned ? std::string(owned.get()) : std::string();
}

/** Shared by an engine and its callback tokens, so a token outliving its engine stays harmless. */
struct engine_state {
  std::mutex mutex;
  CSyncEngine *handle = nullptr;
};

using event_function = std::function<void(const SyncEventData &)>;

/** The C context of a registration. The trampoline keeps the function alive while it runs, so a
 *  callback may destroy its own token. */
struct callback_holder {
  std::shared_ptr<event_function> function;
};

inline void trampoline(const SyncEventData *event, void *context) noexcept {
  try {
    if (!event || !context) return;
    std::shared_ptr<event_function> function = static_cast<callback_holder *>(context)->function;
    (*function)(*event);
  } catch (...) {
    // An exception thrown by a callback has nowhere to go: the C caller cannot receive it.
  }
}

}  // namespace detail

/** A callback registration; unregisters when destroyed or reset(). Move-only. */
class callback_token {
 public:
  callback_token() = default;
  callback_token(const callback_token &) = delete;
  callback_token &operator=(const callback_token &) = delete;
  callback_token(callback_token &&other) noexcept = default;
  callback_token &operator=(callback_token &&other) noexcept {
    if (this != &other) {
      reset();
      state_ = std::move(other.state_);
      holder_ = std::move(other.holder_);
    }
    return *this;
  }
  ~callback_token() { reset(); }

  void reset() noexcept {
    if (auto state = state_.lock()) {
      std::lock_guard<std::mutex> lock(state->mutex);
      if (state->handle && holder_) sync_engine_unregister_event_callback(state->handle, detail::trampoline, holder_.get());
    }
    state_.reset();
    holder_.reset();
  }

  explicit operator bool() const noexcept { return holder_ != nullptr; }

 private:
  friend class sync_engine;
  callback_token(std::weak_ptr<detail::engine_state> state, std::unique_ptr<detail::callback_holder> holder)
      : state_(std::move(state)), holder_(std::move(holder)) {}
  std::weak_ptr<detail::engine_state> state_;
  std::unique_ptr<detail::callback_holder> holder_;
};

class sync_engine {
 public:
  sync_engine(const std::string &db_url, const std::string &server_url, const std::string &email, const std::string &api_key,
              const std::string &api_secret)
      : sync_engine(sync_engine_create(db_url.c_str(), server_url.c_str(), email.c_str(), api_key.c_str(), api_secret.c_str())) {}

  sync_engine(const std::string &db_url, const std::string &server_url, const std::string &email, const std::string &api_key,
              const std::string &api_secret, const SyncEngineOptions &options)
      : sync_engine(sync_engine_create_with_options(db_url.c_str(), server_url.c_str(), email.c_str(), api_key.c_str(), api_secret.c_str(),
                                                    &options)) {}

  sync_engine(const sync_engine &) = delete;
  sync_engine &operator=(const sync_engine &) = delete;
  sync_engine(sync_engine &&other) noexcept = default;
  sync_engine &operator=(sync_engine &&other) noexcept {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~sync_engine() { close(); }

  static SyncEngineOptions default_options() {
    SyncEngineOptions o;
    sync_engine_options_init(&o);
    return o;
  }

  std::string create_document(const std::string &json) {
    char id[37];
    check(sync_engine_create_document(handle(), json.c_str(), id));
    return id;
  }
  void create_document_with_id(const std::string &id, const std::string &json) {
    check(sync_engine_create_document_with_id(handle(), id.c_str(), json.c_str()));
  }
  /** Full replacement: members missing from `json` are removed. */
  void update_document(const std::string &id, const std::string &json) { check(sync_engine_update_document(handle(), id.c_str(), json.c_str())); }
  /** RFC 6902 JSON Patch. */
  void patch_document(const std::string &id, const std::string &patch_json) {
    check(sync_engine_patch_document(handle(), id.c_str(), patch_json.c_str()));
  }
  /** RFC 7386 JSON Merge Patch. */
  void merge_document(const std::string &id, const std::string &merge_json) {
    check(sync_engine_merge_document(handle(), id.c_str(), merge_json.c_str()));
  }
  void delete_document(const std::string &id) { check(sync_engine_delete_document(handle(), id.c_str())); }

  std::string get_document(const std::string &id) {
    char *json = nullptr;
    check(sync_engine_get_document(handle(), id.c_str(), &json));
    return detail::take(json);
  }
  std::string get_all_documents() {
    char *json = nullptr;
    check(sync_engine_get_all_documents(handle(), &json));
    return detail::take(json);
  }
  std::string get_history(const std::string &id) {
    char *json = nullptr;
    check(sync_engine_get_history(handle(), id.c_str(), &json));
    return detail::take(json);
  }
  std::string get_conflicts() {
    char *json = nullptr;
    check(sync_engine_get_conflicts(handle(), &json));
    return detail::take(json);
  }

  uint64_t count_documents() {
    uint64_t n = 0;
    check(sync_engine_count_documents(handle(), &n));
    return n;
  }
  uint64_t count_pending() {
    uint64_t n = 0;
    check(sync_engine_count_pending(handle(), &n));
    return n;
  }
  bool is_connected() {
    bool connected = false;
    check(sync_engine_is_connected(handle(), &connected));
    return connected;
  }
  /** Waits until everything is on the server; throws sync_exception (SYNC_RESULT_TIMEOUT) otherwise. */
  void flush(uint32_t timeout_ms) { check(sync_engine_flush(handle(), timeout_ms)); }
  void set_online(bool online) { check(sync_engine_set_online(handle(), online)); }
  void undo(const std::string &id) { check(sync_engine_undo(handle(), id.c_str())); }
  void redo(const std::string &id) { check(sync_engine_redo(handle(), id.c_str())); }

  /**
   * Registers `callable` — `void(const SyncEventData &)` or `void(const SyncEventData *, void *)`
   * (the second receives nullptr as context) — for events of type `filter` (-1: all). Keep the
   * returned token: the callback is unregistered when it is destroyed.
   */
  template <typename F>
  [[nodiscard]] callback_token register_callback(F &&callable, int filter = -1) {
    auto holder = std::make_unique<detail::callback_holder>();
    if constexpr (std::is_invocable_v<F &, const SyncEventData &>) {
      holder->function = std::make_shared<detail::event_function>(std::forward<F>(callable));
    } else {
      static_assert(std::is_invocable_v<F &, const SyncEventData *, void *>,
                    "callback must be void(const SyncEventData&) or void(const SyncEventData*, void*)");
      holder->function =
          std::make_shared<detail::event_function>([f = std::forward<F>(callable)](const SyncEventData &e) mutable { f(&e, nullptr); });
    }
    check(sync_engine_register_event_callback(handle(), detail::trampoline, holder.get(), filter));
    return callback_token(state_, std::move(holder));
  }

  /** A plain C callback with its own context, as in the C API. */
  [[nodiscard]] callback_token register_callback(SyncEventCallback callback, void *context, int filter = -1) {
    return register_callback([callback, context](const SyncEventData &e) { callback(&e, context); }, filter);
  }

  /** Delivers queued events to the callbacks on this thread; returns how many. */
  uint32_t process_events() {
    uint32_t processed = 0;
    check(sync_engine_process_events(handle(), &processed));
    return processed;
  }

  /** See sync_engine_set_event_notify: `notify` runs on the engine's thread and must only wake your loop. */
  void set_event_notify(SyncNotifyCallback notify, void *context) { check(sync_engine_set_event_notify(handle(), notify, context)); }

  int event_fd() {
    int fd = sync_engine_event_fd(handle());
    if (fd < 0) throw sync_exception(SYNC_RESULT_UNKNOWN, sync_last_error_message());
    return fd;
  }

  static std::string get_version() { return sync_get_version(); }

  /** The C handle, for calls the wrapper does not cover. Owned by this object. */
  CSyncEngine *handle() const {
    if (!state_ || !state_->handle) throw sync_exception(SYNC_RESULT_NOT_INITIALIZED, "the engine was moved from or closed");
    return state_->handle;
  }

  /** Destroys the engine now (the destructor does the same). */
  void close() noexcept {
    if (!state_) return;
    CSyncEngine *engine;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      engine = state_->handle;
      state_->handle = nullptr;
    }
    sync_engine_destroy(engine);
    state_.reset();
  }

 private:
  explicit sync_engine(CSyncEngine *engine) {
    if (!engine) throw sync_exception(SYNC_RESULT_NOT_INITIALIZED, sync_last_error_message());
    state_ = std::make_shared<detail::engine_state>();
    state_->handle = engine;
  }
  std::shared_ptr<detail::engine_state> state_;
};

}  // namespace SyncClient

#endif  // SYNC_CLIENT_HPP
