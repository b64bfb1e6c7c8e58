// The first generation's functions (sync_client_compat.h), each over its current counterpart. The
// library's other sources are compiled with SYNC_NO_COMPAT; this one includes the compat header.
#include <cstring>

#include "api_support.h"
#include "sync_client_compat.h"

using sync_client::Fail;

namespace {

/** The option fields SyncEngineConfig and SyncEngineOptions share, copied either way. */
template <typename To, typename From>
void CopyOptions(To &to, const From &from) {
  to.reconnect_min_ms = from.reconnect_min_ms;
  to.reconnect_max_ms = from.reconnect_max_ms;
  to.heartbeat_interval_ms = from.heartbeat_interval_ms;
  to.heartbeat_timeout_ms = from.heartbeat_timeout_ms;
  to.call_timeout_ms = from.call_timeout_ms;
  to.event_queue_limit = from.event_queue_limit;
  to.durability = from.durability;
  to.client_id = from.client_id;
  to.start_offline = from.start_offline;
  to.tls_ca_file = from.tls_ca_file;
}

}  // namespace

extern "C" {

SYNC_API char *sync_get_version(void) {
  const char *version = nullptr;
  sync_library_version(&version);
  // The seed's callers hold it as a `char *` and may pass it to sync_string_free(), which leaves it alone.
  return const_cast<char *>(version);
}

SYNC_API void sync_engine_options_init(SyncEngineOptions *options) {
  if (!options) return;
  SyncEngineConfig defaults;
  sync_engine_config_init(&defaults);
  std::memset(options, 0, sizeof *options);
  options->struct_size = sizeof *options;
  CopyOptions(*options, defaults);
}

SYNC_API struct CSyncEngine *sync_engine_create_with_options(const char *db_url, const char *server_url, const char *email, const char *api_key,
                                                             const char *api_secret, const SyncEngineOptions *options) {
  SyncEngineConfig c;
  sync_engine_config_init(&c);
  c.database_url = db_url;
  c.server_url = server_url;
  c.email = email;
  c.api_key = api_key;
  c.api_secret = api_secret;
  if (options) {
    SyncEngineOptions o;
    sync_engine_options_init(&o);
    if (options->struct_size < sizeof(size_t) || options->struct_size > sizeof o) {
      Fail(SYNC_RESULT_INVALID_INPUT, "options->struct_size is not a size this library knows (initialise with sync_engine_options_init)");
      return nullptr;
    }
    std::memcpy(&o, options, options->struct_size);
    CopyOptions(c, o);
  }
  SyncEngineHandle *engine = nullptr;
  sync_engine_open(&c, &engine);
  return engine;
}

SYNC_API struct CSyncEngine *sync_engine_create(const char *db_url, const char *server_url, const char *email, const char *api_key, const char *api_secret) {
  return sync_engine_create_with_options(db_url, server_url, email, api_key, api_secret, nullptr);
}

SYNC_API SyncResult sync_engine_register_event_callback(SyncEngineHandle *engine, SyncEventCallback callback, void *context, int filter) {
  return sync_engine_add_listener(engine, filter, callback, context, nullptr);
}

SYNC_API SyncResult sync_engine_unregister_event_callback(SyncEngineHandle *engine, SyncEventCallback callback, void *context) {
  return sync_client::Guard([&]() -> SyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    if (!callback) return Fail(SYNC_RESULT_INVALID_INPUT, "callback is NULL");
    if (sync_client::RemoveCallbackListeners(engine, callback, context) == 0) return Fail(SYNC_RESULT_NOT_FOUND, "no such callback registration");
    return sync_client::Ok();
  });
}

SYNC_API int sync_engine_event_fd(SyncEngineHandle *engine) {
  int fd = -1;
  sync_engine_get_event_fd(engine, &fd);
  return fd;
}

}  // extern "C"
