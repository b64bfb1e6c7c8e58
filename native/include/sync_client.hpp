// sync_client.hpp — header-only C++11 wrapper over sync_client.h (compiles as C++11 to C++20).
//
// sync_engine owns a CSyncEngine (move-only RAII). Every failing call, the constructor included,
// throws sync_exception carrying the C result code. Callbacks are std::function objects reached
// through a static trampoline that catches everything: no exception ever crosses into the C
// library. The threading contract of sync_client.h applies unchanged: callbacks run inside
// process_events() on the calling thread.
//
// A callback registered with register_callback() stays registered until the engine is destroyed
// or the registration is removed — whether or not the returned callback_handle is kept (like a Qt
// connection). For removal at the end of a scope, hold the handle in a scoped_callback.
#ifndef SYNC_CLIENT_HPP
#define SYNC_CLIENT_HPP

#if __cplusplus < 201103L && !(defined(_MSVC_LANG) && _MSVC_LANG >= 201103L)
#error "sync_client.hpp needs C++11 or later"
#endif

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

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

/** The strings of a JSON array of document ids, as the library writes it (UUIDs: nothing to unescape). */
inline std::vector<std::string> ids_of(const std::string &json) {
  std::vector<std::string> ids;
  for (std::string::size_type open = json.find('"'); open != std::string::npos; open = json.find('"', open)) {
    std::string::size_type close = json.find('"', open + 1);
    if (close == std::string::npos) break;
    ids.push_back(json.substr(open + 1, close - open - 1));
    open = close + 1;
  }
  return ids;
}

typedef std::function<void(const SyncEventData &)> event_function;

/** One registration: the C listener and the function its trampoline calls. Owned by the engine's state. */
struct registration {
  /** Shared with a running trampoline, so a callback may remove its own registration. */
  std::shared_ptr<event_function> function;
  SyncListener *listener = nullptr;
};

/** Shared by an engine and its callback handles, so a handle outliving its engine stays harmless. */
struct engine_state {
  std::mutex mutex;
  std::condition_variable removals_done;
  /** Removals in progress outside the lock; close() waits for them before destroying the engine. */
  int removing = 0;
  CSyncEngine *handle = nullptr;
  std::vector<std::shared_ptr<registration>> registrations;
};

inline void trampoline(const SyncEventData *event, void *context) noexcept {
  try {
    if (!event || !context) return;
    std::shared_ptr<event_function> function = static_cast<registration *>(context)->function;
    (*function)(*event);
  } catch (...) {
    // An exception thrown by a callback has nowhere to go: the C caller cannot receive it.
  }
}

/** The seed's callback form, void(const SyncEventData *, void *), called with a null context. */
template <typename F>
struct pointer_form {
  F f;
  void operator()(const SyncEventData &event) { f(&event, nullptr); }
};

// adapt(): a callable of either accepted form as an event_function. The int/long/... argument
// ranks the overloads, so a callable that fits the reference form never reaches the others.
template <typename F>
auto adapt(F &&f, int) -> decltype(f(std::declval<const SyncEventData &>()), event_function()) {
  return event_function(std::forward<F>(f));
}

template <typename F>
auto adapt(F &&f, long) -> decltype(f(std::declval<const SyncEventData *>(), static_cast<void *>(nullptr)), event_function()) {
  return event_function(pointer_form<typename std::decay<F>::type>{std::forward<F>(f)});
}

template <typename F>
struct unsupported_callback : std::false_type {};

template <typename F>
event_function adapt(F &&, ...) {
  static_assert(unsupported_callback<F>::value, "callback must be void(const SyncEventData&) or void(const SyncEventData*, void*)");
  return event_function();
}

}  // namespace detail

/**
 * Names one registration (copyable, like a Qt connection). Dropping it changes nothing; remove()
 * unregisters the callback: from another thread it waits until a running call has returned, and
 * from inside the callback itself it is safe. remove() after the engine is gone does nothing.
 */
class callback_handle {
 public:
  callback_handle() = default;

  void remove() noexcept {
    std::shared_ptr<detail::engine_state> state = state_.lock();
    std::shared_ptr<detail::registration> reg = registration_.lock();
    state_.reset();
    registration_.reset();
    if (!state || !reg) return;
    try {
      {
        std::lock_guard<std::mutex> lock(state->mutex);
        auto &all = state->registrations;
        auto it = std::find(all.begin(), all.end(), reg);
        if (!state->handle || it == all.end()) return;
        all.erase(it);
        state->removing++;
      }
      // Outside the lock: this waits for a delivery on another thread, whose callbacks may
      // themselves register or remove.
      sync_listener_remove(reg->listener);
      std::lock_guard<std::mutex> lock(state->mutex);
      state->removing--;
      state->removals_done.notify_all();
    } catch (...) {
      // Only a failing mutex can throw here; the registration then lives until the engine goes.
    }
  }

  /** True while the registration exists (not removed, engine not destroyed). */
  explicit operator bool() const noexcept { return !registration_.expired(); }

 private:
  friend class sync_engine;
  callback_handle(std::weak_ptr<detail::engine_state> state, std::weak_ptr<detail::registration> registration)
      : state_(std::move(state)), registration_(std::move(registration)) {}
  std::weak_ptr<detail::engine_state> state_;
  std::weak_ptr<detail::registration> registration_;
};

/** Owns a registration for a scope: removes it when destroyed or reset(). Move-only. */
class scoped_callback {
 public:
  scoped_callback() = default;
  explicit scoped_callback(callback_handle handle) noexcept : handle_(std::move(handle)) {}
  scoped_callback(const scoped_callback &) = delete;
  scoped_callback &operator=(const scoped_callback &) = delete;
  scoped_callback(scoped_callback &&other) noexcept : handle_(other.release()) {}
  scoped_callback &operator=(scoped_callback &&other) noexcept {
    if (this != &other) {
      reset();
      handle_ = other.release();
    }
    return *this;
  }
  ~scoped_callback() { reset(); }

  void reset() noexcept { release().remove(); }
  /** Gives up ownership: the registration then lives until removed through the handle or the engine goes. */
  callback_handle release() noexcept {
    callback_handle out = handle_;
    handle_ = callback_handle();
    return out;
  }
  explicit operator bool() const noexcept { return static_cast<bool>(handle_); }

 private:
  callback_handle handle_;
};

class sync_engine {
 public:
  /** Opens (or creates) the database; throws sync_exception with sync_engine_open()'s code on failure. */
  explicit sync_engine(const SyncEngineConfig &config) {
    CSyncEngine *engine = nullptr;
    check(sync_engine_open(&config, &engine));
    state_ = std::make_shared<detail::engine_state>();
    state_->handle = engine;
  }

  sync_engine(const std::string &db_url, const std::string &server_url, const std::string &email, const std::string &api_key,
              const std::string &api_secret)
      : sync_engine(config(db_url, server_url, email, api_key, api_secret)) {}

  sync_engine(const sync_engine &) = delete;
  sync_engine &operator=(const sync_engine &) = delete;
  sync_engine(sync_engine &&other) noexcept : state_(std::move(other.state_)) {}
  sync_engine &operator=(sync_engine &&other) noexcept {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~sync_engine() { close(); }

  /** A config with every default (sync_engine_config_init) and the five strings unset. */
  static SyncEngineConfig default_config() {
    SyncEngineConfig c;
    sync_engine_config_init(&c);
    return c;
  }

  std::string create_document(const std::string &json) {
    char id[SYNC_DOCUMENT_ID_SIZE];
    check(sync_engine_create_document(handle(), json.c_str(), id));
    return id;
  }
  /** Creates the documents of `json_array` (a JSON array of objects) in one transaction, all or none; returns their ids in order. */
  std::vector<std::string> create_documents(const std::string &json_array) {
    char *ids = nullptr;
    check(sync_engine_create_documents(handle(), json_array.c_str(), &ids));
    return detail::ids_of(detail::take(ids));
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
   * (the second receives nullptr as context) — for events of type `filter` (SYNC_EVENT_ALL: all).
   * It stays registered until the engine is destroyed or the returned handle's remove() is
   * called; the handle may be dropped. Hold it in a scoped_callback to remove it with a scope.
   */
  template <typename F>
  callback_handle register_callback(F &&callable, int filter = SYNC_EVENT_ALL) {
    std::shared_ptr<detail::registration> reg = std::make_shared<detail::registration>();
    reg->function = std::make_shared<detail::event_function>(detail::adapt(std::forward<F>(callable), 0));
    CSyncEngine *engine = handle();
    {
      // Stored first: once the C listener exists, its context must stay alive.
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->registrations.push_back(reg);
    }
    CSyncResult added = sync_engine_add_listener(engine, filter, detail::trampoline, reg.get(), &reg->listener);
    if (added != SYNC_RESULT_SUCCESS) {
      std::lock_guard<std::mutex> lock(state_->mutex);
      auto &all = state_->registrations;
      all.erase(std::find(all.begin(), all.end(), reg));
    }
    check(added);
    return callback_handle(state_, reg);
  }

  /** A plain C callback with its own context, as in the C API. */
  callback_handle register_callback(SyncEventCallback callback, void *context, int filter = SYNC_EVENT_ALL) {
    return register_callback(c_callback{callback, context}, filter);
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

  /** Destroys the engine now, with every registration (the destructor does the same). */
  void close() noexcept {
    if (!state_) return;
    CSyncEngine *engine = nullptr;
    std::vector<std::shared_ptr<detail::registration>> registrations;
    try {
      std::unique_lock<std::mutex> lock(state_->mutex);
      engine = state_->handle;
      state_->handle = nullptr;
      state_->removals_done.wait(lock, [this] { return state_->removing == 0; });
      registrations.swap(state_->registrations);
    } catch (...) {
      // Only a failing mutex can throw here; the engine is destroyed all the same.
    }
    sync_engine_destroy(engine);
    state_.reset();
  }

 private:
  /** Defaults and these five strings, which the config points into: for the delegating constructor only. */
  static SyncEngineConfig config(const std::string &db_url, const std::string &server_url, const std::string &email, const std::string &api_key,
                                 const std::string &api_secret) {
    SyncEngineConfig c = default_config();
    c.database_url = db_url.c_str();
    c.server_url = server_url.c_str();
    c.email = email.c_str();
    c.api_key = api_key.c_str();
    c.api_secret = api_secret.c_str();
    return c;
  }

  struct c_callback {
    SyncEventCallback callback;
    void *context;
    void operator()(const SyncEventData &event) const { callback(&event, context); }
  };

  std::shared_ptr<detail::engine_state> state_;
};

}  // namespace SyncClient

#endif  // SYNC_CLIENT_HPP
