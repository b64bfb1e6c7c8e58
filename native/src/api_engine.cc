// Opening and destroying engines: sync_engine_open, and the original create functions over it.
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>

#include "api_support.h"
#include "json_text.h"
#include "runtime.h"
#include "sqlite_api.h"

using sync_client::Bridge;
using sync_client::Fail;
using sync_client::Reply;

namespace {

std::atomic<uint64_t> next_engine_id{1};

/**
 * The smallest struct_size a caller may pass: the size of SyncEngineConfig's first version, which
 * ended with start_offline. Later versions append fields and keep this value, so older callers keep
 * working (their missing fields keep their defaults).
 */
constexpr size_t kFirstConfigSize = offsetof(SyncEngineConfig, tls_ca_file);

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

/** A string option as JSON: null when unset. */
std::string JsonOrNull(const char *text) {
  if (!text) return "null";
  std::string out;
  sync_client::AppendJsonString(out, text);
  return out;
}

std::string OptionsJson(const SyncEngineConfig &c) {
  return std::string("{") + "\"reconnect_min_ms\":" + std::to_string(c.reconnect_min_ms) + ",\"reconnect_max_ms\":" + std::to_string(c.reconnect_max_ms) +
         ",\"heartbeat_interval_ms\":" + std::to_string(c.heartbeat_interval_ms) + ",\"heartbeat_timeout_ms\":" + std::to_string(c.heartbeat_timeout_ms) +
         ",\"durability\":" + std::to_string(static_cast<int>(c.durability)) + ",\"client_id\":" + JsonOrNull(c.client_id) +
         ",\"start_offline\":" + (c.start_offline ? "true" : "false") + ",\"tls_ca_file\":" + JsonOrNull(c.tls_ca_file) + "}";
}

/** The checks that need no engine: everything the JS side cannot see (NULL, UTF-8, sizes) or would misread. */
CSyncResult CheckConfig(const SyncEngineConfig &c) {
  if (!sync_client::CheckStrings({{"database_url", c.database_url},
                                  {"server_url", c.server_url},
                                  {"email", c.email},
                                  {"api_key", c.api_key},
                                  {"api_secret", c.api_secret}}))
    return SYNC_RESULT_INVALID_INPUT;
  if (c.client_id && !sync_client::CheckStrings({{"client_id", c.client_id}})) return SYNC_RESULT_INVALID_INPUT;
  if (c.tls_ca_file && !sync_client::CheckStrings({{"tls_ca_file", c.tls_ca_file}})) return SYNC_RESULT_INVALID_INPUT;
  if (c.call_timeout_ms == 0 || c.event_queue_limit == 0) return Fail(SYNC_RESULT_INVALID_INPUT, "call_timeout_ms and event_queue_limit must be positive");
  if (c.durability != SYNC_DURABILITY_NORMAL && c.durability != SYNC_DURABILITY_FULL) {
    return Fail(SYNC_RESULT_INVALID_INPUT, "durability must be SYNC_DURABILITY_NORMAL or SYNC_DURABILITY_FULL");
  }
  return SYNC_RESULT_SUCCESS;
}

/** The engine's database file opened for this library's reads; on failure the engine is destroyed again. */
CSyncResult OpenReader(CSyncEngine &engine, const std::string &path) {
  std::string why;
  const sync_client::SqliteApi *sqlite = sync_client::SqliteApi::Get(&why);
  CSyncResult code = SYNC_RESULT_RUNTIME_UNAVAILABLE;
  if (sqlite) {
    engine.reader = sync_client::DocumentReader::Open(sqlite, path, &why);
    code = SYNC_RESULT_DATABASE;
  }
  if (engine.reader) return SYNC_RESULT_SUCCESS;
  Bridge::instance().call("destroy", engine.id, {}, 1000);
  Bridge::instance().detach(engine.id);
  return Fail(code, why);
}

CSyncResult Open(const SyncEngineConfig &c, CSyncEngine **out) {
  CSyncResult checked = CheckConfig(c);
  if (checked != SYNC_RESULT_SUCCESS) return checked;
  std::string why;
  if (!sync_client::EnsureRuntime(&why)) return Fail(SYNC_RESULT_RUNTIME_UNAVAILABLE, why);
  auto engine = std::make_unique<CSyncEngine>();
  engine->id = next_engine_id++;
  engine->call_timeout_ms = c.call_timeout_ms;
  engine->events = std::make_shared<sync_client::EventQueue>(c.event_queue_limit);
  engine->state = std::make_shared<sync_client::PublishedState>();
  // Attached before the engine exists: its first events (connection attempts) must not be lost.
  Bridge::instance().attach(engine->id, engine->events, engine->state);
  Reply r = Bridge::instance().call("create", engine->id, {c.database_url, c.server_url, c.email, c.api_key, c.api_secret, OptionsJson(c)},
                                    c.call_timeout_ms);
  if (r.code != SYNC_RESULT_SUCCESS) {
    Bridge::instance().detach(engine->id);
    if (r.code == SYNC_RESULT_TIMEOUT) Bridge::instance().call("destroy", engine->id, {}, 1000);
    return Fail(r.code, r.message);
  }
  // The reply is the database file's absolute path.
  CSyncResult reading = OpenReader(*engine, r.text);
  if (reading != SYNC_RESULT_SUCCESS) return reading;
  *out = engine.release();
  return sync_client::Ok();
}

CSyncEngine *OpenOrNull(const SyncEngineConfig &c) {
  CSyncEngine *engine = nullptr;
  sync_engine_open(&c, &engine);
  return engine;
}

}  // namespace

extern "C" {

SYNC_API void sync_engine_config_init(SyncEngineConfig *config) {
  if (!config) return;
  std::memset(config, 0, sizeof *config);
  config->struct_size = sizeof *config;
  config->reconnect_min_ms = 250;
  config->reconnect_max_ms = 30000;
  config->heartbeat_interval_ms = 15000;
  config->heartbeat_timeout_ms = 10000;
  config->call_timeout_ms = 10000;
  config->event_queue_limit = 10000;
  config->durability = SYNC_DURABILITY_NORMAL;
}

SYNC_API CSyncResult sync_engine_open(const SyncEngineConfig *config, CSyncEngine **out) {
  return sync_client::Guard([&]() -> CSyncResult {
    if (!out) return Fail(SYNC_RESULT_INVALID_INPUT, "out is NULL");
    *out = nullptr;
    if (!config) return Fail(SYNC_RESULT_INVALID_INPUT, "config is NULL");
    if (config->struct_size < kFirstConfigSize || config->struct_size > sizeof(SyncEngineConfig)) {
      return Fail(SYNC_RESULT_INVALID_INPUT, "config->struct_size is not a size this library knows (initialise with sync_engine_config_init)");
    }
    SyncEngineConfig c;
    sync_engine_config_init(&c);
    std::memcpy(&c, config, config->struct_size);
    return Open(c, out);
  });
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
  return OpenOrNull(c);
}

SYNC_API struct CSyncEngine *sync_engine_create(const char *db_url, const char *server_url, const char *email, const char *api_key, const char *api_secret) {
  return sync_engine_create_with_options(db_url, server_url, email, api_key, api_secret, nullptr);
}

SYNC_API void sync_engine_destroy(struct CSyncEngine *engine) {
  if (!engine) return;
  try {
    // Before the engine closes the file: its connection must be the last, to remove the WAL.
    engine->reader->close();
    Bridge::instance().call("destroy", engine->id, {}, 1000);
    Bridge::instance().detach(engine->id);
  } catch (...) {
  }
  delete engine;
}

}  // extern "C"
