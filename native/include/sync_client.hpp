// sync_client.hpp — header-only C++11 wrapper over sync_client.h (compiles as C++11 to C++20).
//
// sync_engine owns a SyncEngineHandle (move-only RAII). Every failing call, the constructor included,
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
  sync_exception(SyncResult code, const std::string &message) : std::runtime_error(message), code_(code) {}
  SyncResult code() const noexcept { return code_; }

 private:
  SyncResult code_;
};

/** Throws sync_exception for any result but success, with the thread's last error message. */
inline void check(SyncResult result) {
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

typedef std::function<void(const std::string &)> diff_function;

/** One live query: the C handle and the function its trampoline calls. Owned by the engine's state. */
struct live_registration {
  /** Shared with a running trampoline, so a callback may close its own live query. */
  std::shared_ptr<diff_function> function;
  SyncLiveQuery *query = nullptr;
};

/** Shared by an engine and its callback and live query handles, so a handle outliving its engine stays harmless. */
struct engine_state {
  std::mutex mutex;
  std::condition_variable removals_done;
  /** Removals in progress outside the lock; close() waits for them before destroying the engine. */
  int removing = 0;
  SyncEngineHandle *handle = nullptr;
  std::vector<std::shared_ptr<registration>> registrations;
  std::vector<std::shared_ptr<live_registration>> live_queries;
};

/**
 * Takes `reg` out of the engine's `list` and runs `close` (the C removal) outside the lock: it waits
 * for a delivery on another thread, whose callbacks may themselves register or remove. Nothing when
 * the engine is closed or `reg` is gone already; the engine's close() waits for a removal under way.
 */
template <typename T, typename Close>
void unregister(engine_state &state, std::vector<std::shared_ptr<T>> engine_state::*list, const std::shared_ptr<T> &reg, Close close) {
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    std::vector<std::shared_ptr<T>> &all = state.*list;
    typename std::vector<std::shared_ptr<T>>::iterator it = std::find(all.begin(), all.end(), reg);
    if (!state.handle || it == all.end()) return;
    all.erase(it);
    state.removing++;
  }
  close();
  std::lock_guard<std::mutex> lock(state.mutex);
  state.removing--;
  state.removals_done.notify_all();
}

inline void trampoline(const SyncEventData *event, void *context) noexcept {
  try {
    if (!event || !context) return;
    std::shared_ptr<event_function> function = static_cast<registration *>(context)->function;
    (*function)(*event);
  } catch (...) {
    // An exception thrown by a callback has nowhere to go: the C caller cannot receive it.
  }
}

inline void live_trampoline(const char *diff_json, void *context) noexcept {
  try {
    if (!diff_json || !context) return;
    std::shared_ptr<diff_function> function = static_cast<live_registration *>(context)->function;
    (*function)(std::string(diff_json));
  } catch (...) {
    // As for events: an exception thrown by a callback has nowhere to go.
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
      detail::unregister(*state, &detail::engine_state::registrations, reg, [&reg] { sync_listener_remove(reg->listener); });
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

/**
 * A live query (sync_engine::watch), move-only: destroying it or close() stops it — from another
 * thread waiting until a running callback has returned, from inside its own callback safely.
 * release() keeps it running until the engine is destroyed. Harmless after the engine is gone.
 */
class live_query {
 public:
  live_query() = default;
  live_query(const live_query &) = delete;
  live_query &operator=(const live_query &) = delete;
  live_query(live_query &&other) noexcept : state_(std::move(other.state_)), registration_(std::move(other.registration_)) {}
  live_query &operator=(live_query &&other) noexcept {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
      registration_ = std::move(other.registration_);
    }
    return *this;
  }
  ~live_query() { close(); }

  void close() noexcept {
    std::shared_ptr<detail::engine_state> state = state_.lock();
    std::shared_ptr<detail::live_registration> reg = registration_.lock();
    release();
    if (!state || !reg) return;
    try {
      detail::unregister(*state, &detail::engine_state::live_queries, reg, [&reg] { sync_live_query_close(reg->query); });
    } catch (...) {
      // Only a failing mutex can throw here; the live query then runs until the engine goes.
    }
  }

  /** Gives up ownership: the live query runs until its engine is destroyed. */
  void release() noexcept {
    state_.reset();
    registration_.reset();
  }

  /** True while it runs and this object owns it. */
  explicit operator bool() const noexcept { return !registration_.expired(); }

 private:
  friend class sync_engine;
  live_query(std::weak_ptr<detail::engine_state> state, std::weak_ptr<detail::live_registration> registration)
      : state_(std::move(state)), registration_(std::move(registration)) {}
  std::weak_ptr<detail::engine_state> state_;
  std::weak_ptr<detail::live_registration> registration_;
};

class sync_engine {
 public:
  /** Opens (or creates) the database; throws sync_exception with sync_engine_open()'s code on failure. */
  explicit sync_engine(const SyncEngineConfig &config) {
    SyncEngineHandle *engine = nullptr;
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
    check(sync_engine_config_init(&c));
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
  /** sync_engine_rekey: `key` of 32 bytes re-encrypts (or encrypts) the database; an empty one decrypts it. */
  void rekey(const std::vector<uint8_t> &key) { check(sync_engine_rekey(handle(), key.empty() ? nullptr : key.data(), key.size())); }
  void rekey(const uint8_t *key, size_t key_length) { check(sync_engine_rekey(handle(), key, key_length)); }
  void undo(const std::string &id) { check(sync_engine_undo(handle(), id.c_str())); }
  void redo(const std::string &id) { check(sync_engine_redo(handle(), id.c_str())); }

  // ---- attachments (sync_client.h, "attachments") ----

  /**
   * Adds the bytes as an attachment; returns its reference as JSON text, to put into a document as it
   * is. An empty `content_type`: application/octet-stream.
   */
  std::string add_attachment(const std::vector<uint8_t> &bytes, const std::string &content_type = std::string()) {
    return add_attachment(bytes.empty() ? nullptr : bytes.data(), bytes.size(), content_type);
  }
  std::string add_attachment(const void *bytes, size_t length, const std::string &content_type = std::string()) {
    char *reference = nullptr;
    check(sync_engine_add_attachment(handle(), bytes, length, content_type.empty() ? nullptr : content_type.c_str(), &reference));
    return detail::take(reference);
  }
  /** Adds the file's contents (streamed by the engine; this thread waits until they are stored). */
  std::string add_attachment_file(const std::string &path, const std::string &content_type = std::string()) {
    char *reference = nullptr;
    check(sync_engine_add_attachment_file(handle(), path.c_str(), content_type.empty() ? nullptr : content_type.c_str(), &reference));
    return detail::take(reference);
  }
  /** The attachment's bytes from the local database; throws SYNC_RESULT_NOT_FOUND when they are not here (fetch them). */
  std::vector<uint8_t> attachment(const std::string &attachment_id) {
    void *bytes = nullptr;
    size_t length = 0;
    check(sync_engine_get_attachment(handle(), attachment_id.c_str(), &bytes, &length));
    std::unique_ptr<void, void (*)(void *)> owned(bytes, sync_bytes_free);
    const uint8_t *first = static_cast<const uint8_t *>(owned.get());
    return std::vector<uint8_t>(first, first + length);
  }
  /** Writes the attachment to `path`, downloading it first when it is not local. */
  void save_attachment(const std::string &attachment_id, const std::string &path) {
    check(sync_engine_save_attachment(handle(), attachment_id.c_str(), path.c_str()));
  }
  /** Starts a download; progress and the outcome arrive as SYNC_EVENT_ATTACHMENT_* events. */
  void fetch_attachment(const std::string &attachment_id) { check(sync_engine_fetch_attachment(handle(), attachment_id.c_str())); }
  /** {"local", "received", "length", "uploaded"}; throws SYNC_RESULT_NOT_FOUND when the engine knows nothing of it. */
  std::string attachment_state(const std::string &attachment_id) {
    char *json = nullptr;
    check(sync_engine_attachment_state(handle(), attachment_id.c_str(), &json));
    return detail::take(json);
  }
  uint64_t count_pending_attachments() {
    uint64_t n = 0;
    check(sync_engine_count_pending_attachments(handle(), &n));
    return n;
  }
  /**
   * The attachment id ("sha256-...") of a reference as the library writes it (add_attachment's
   * result, an attachment event's content); empty when `reference_json` holds none.
   */
  static std::string attachment_id_of(const std::string &reference_json) {
    static const char key[] = "\"$attachment\":\"";
    std::string::size_type at = reference_json.find(key);
    if (at == std::string::npos) return std::string();
    std::string::size_type start = at + sizeof key - 1, end = reference_json.find('"', start);
    return end == std::string::npos ? std::string() : reference_json.substr(start, end - start);
  }

  // ---- queries (docs/queries.md) ----

  /** Answers a query from the local database on this thread: {"documents": [...], "next": cursor|null} or {"count": n}. */
  std::string query(const std::string &query_json) {
    char *json = nullptr;
    check(sync_engine_query(handle(), query_json.c_str(), &json));
    return detail::take(json);
  }
  /** {"sql", "index", "plan"}: how the query runs. */
  std::string explain_query(const std::string &query_json) {
    char *json = nullptr;
    check(sync_engine_explain_query(handle(), query_json.c_str(), &json));
    return detail::take(json);
  }
  /** {"name", "fields": [...], "unique"?: bool} */
  void create_index(const std::string &spec_json) { check(sync_engine_create_index(handle(), spec_json.c_str())); }
  /** {"name", "fields": [...]}: the fields `search` reads. */
  void create_text_index(const std::string &spec_json) { check(sync_engine_create_text_index(handle(), spec_json.c_str())); }
  void drop_index(const std::string &name) { check(sync_engine_drop_index(handle(), name.c_str())); }
  std::string list_indexes() {
    char *json = nullptr;
    check(sync_engine_list_indexes(handle(), &json));
    return detail::take(json);
  }

  /**
   * Opens a live query: `on_change(diff_json)` gets the first result, then each change of it, inside
   * process_events() (see SyncQueryCallback for the diff). `total`: diffs also hold the number of
   * all matches. The live query stops when the returned object is destroyed (or release() it).
   */
  template <typename F>
  live_query watch(const std::string &query_json, F &&on_change, bool total = false) {
    std::shared_ptr<detail::live_registration> reg = std::make_shared<detail::live_registration>();
    reg->function = std::make_shared<detail::diff_function>(std::forward<F>(on_change));
    SyncEngineHandle *engine = handle();
    {
      // Stored first: once the C live query exists, its context must stay alive.
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->live_queries.push_back(reg);
    }
    SyncResult opened = sync_engine_watch_query(engine, query_json.c_str(), total ? SYNC_WATCH_TOTAL : 0u, detail::live_trampoline, reg.get(), &reg->query);
    if (opened != SYNC_RESULT_SUCCESS) {
      std::lock_guard<std::mutex> lock(state_->mutex);
      auto &all = state_->live_queries;
      all.erase(std::find(all.begin(), all.end(), reg));
    }
    check(opened);
    return live_query(state_, reg);
  }

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
    SyncEngineHandle *engine = handle();
    {
      // Stored first: once the C listener exists, its context must stay alive.
      std::lock_guard<std::mutex> lock(state_->mutex);
      state_->registrations.push_back(reg);
    }
    SyncResult added = sync_engine_add_listener(engine, filter, detail::trampoline, reg.get(), &reg->listener);
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

  /** Readable while events wait; owned by the engine (do not read or close it). */
  int event_fd() {
    int fd = -1;
    check(sync_engine_get_event_fd(handle(), &fd));
    return fd;
  }

  static std::string get_version() {
    const char *version = nullptr;
    check(sync_library_version(&version));
    return version;
  }

  /** The C handle, for calls the wrapper does not cover. Owned by this object. */
  SyncEngineHandle *handle() const {
    if (!state_ || !state_->handle) throw sync_exception(SYNC_RESULT_NOT_INITIALIZED, "the engine was moved from or closed");
    return state_->handle;
  }

  /** Destroys the engine now, with every registration and live query (the destructor does the same). */
  void close() noexcept {
    if (!state_) return;
    SyncEngineHandle *engine = nullptr;
    std::vector<std::shared_ptr<detail::registration>> registrations;
    std::vector<std::shared_ptr<detail::live_registration>> live_queries;
    try {
      std::unique_lock<std::mutex> lock(state_->mutex);
      engine = state_->handle;
      state_->handle = nullptr;
      state_->removals_done.wait(lock, [this] { return state_->removing == 0; });
      registrations.swap(state_->registrations);
      live_queries.swap(state_->live_queries);
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
