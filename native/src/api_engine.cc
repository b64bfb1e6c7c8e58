// Opening and destroying engines: sync_engine_config_init, sync_engine_open, sync_engine_destroy.
// (The original create functions over sync_engine_open are in api_compat.cc.)
#include <atomic>
#include <cstddef>
#include <cstring>
#include <memory>

#include "api_support.h"
#include "runtime.h"
#include "sqlite_api.h"

using sync_client::Bridge;
using sync_client::Fail;
using sync_client::Reply;
namespace ops = sync_client::ops;

namespace {

std::atomic<uint64_t> next_engine_id{1};

/**
 * How long sync_engine_rekey waits: a rekey rewrites the whole file, and a timeout would leave its
 * outcome (which key opens the file) unknown, so not call_timeout_ms but an hour (≈ 100 GB).
 */
constexpr uint32_t kRekeyTimeoutMs = 3600 * 1000;

/**
 * The smallest struct_size a caller may pass: the size of SyncEngineConfig's first version, which
 * ended with start_offline. Later versions append fields and keep this value, so older callers keep
 * working (their missing fields keep their defaults).
 */
constexpr size_t kFirstConfigSize = offsetof(SyncEngineConfig, tls_ca_file);

/** What the engine itself takes of a config, as the contract's record (the bridge makes it a JS object). */
sync_client::ops::EngineOptions OptionsOf(const SyncEngineConfig &c) {
  return {c.reconnect_min_ms, c.reconnect_max_ms, c.heartbeat_interval_ms, c.heartbeat_timeout_ms, static_cast<uint32_t>(c.durability),
          c.client_id, c.start_offline, c.tls_ca_file, c.query_time_limit_ms, {c.encryption_key, c.encryption_key_length},
          c.attachment_fetch_eager, c.attachment_cache_mib};
}

/** The one key length the engine takes from C: raw bytes, never a passphrase (whose bytes could be any length). */
constexpr size_t kKeyBytes = 32;

/** A key argument: none (NULL and 0) or kKeyBytes bytes. The message never shows the bytes. */
SyncResult CheckKey(const char *what, const uint8_t *key, size_t length) {
  if (!key && length == 0) return SYNC_RESULT_SUCCESS;
  if (!key) return Fail(SYNC_RESULT_INVALID_INPUT, std::string(what) + " is NULL but its length is not 0");
  if (length != kKeyBytes) {
    return Fail(SYNC_RESULT_INVALID_INPUT, std::string(what) + " must be 32 bytes (it has " + std::to_string(length) + ")");
  }
  return SYNC_RESULT_SUCCESS;
}

/** The checks that need no engine: everything the JS side cannot see (NULL, UTF-8, sizes) or would misread. */
SyncResult CheckConfig(const SyncEngineConfig &c) {
  if (!sync_client::CheckStrings({{"database_url", c.database_url},
                                  {"server_url", c.server_url},
                                  {"email", c.email},
                                  {"api_key", c.api_key},
                                  {"api_secret", c.api_secret}}))
    return SYNC_RESULT_INVALID_INPUT;
  if (c.client_id && !sync_client::CheckStrings({{"client_id", c.client_id}})) return SYNC_RESULT_INVALID_INPUT;
  if (c.tls_ca_file && !sync_client::CheckStrings({{"tls_ca_file", c.tls_ca_file}})) return SYNC_RESULT_INVALID_INPUT;
  if (CheckKey("encryption_key", c.encryption_key, c.encryption_key_length) != SYNC_RESULT_SUCCESS) return SYNC_RESULT_INVALID_INPUT;
  if (c.call_timeout_ms == 0 || c.event_queue_limit == 0 || c.query_time_limit_ms == 0) {
    return Fail(SYNC_RESULT_INVALID_INPUT, "call_timeout_ms, event_queue_limit and query_time_limit_ms must be positive");
  }
  if (c.durability != SYNC_DURABILITY_NORMAL && c.durability != SYNC_DURABILITY_FULL) {
    return Fail(SYNC_RESULT_INVALID_INPUT, "durability must be SYNC_DURABILITY_NORMAL or SYNC_DURABILITY_FULL");
  }
  return SYNC_RESULT_SUCCESS;
}

/** The engine's database file (the path `created` answers) opened for this library's reads; on failure the engine is destroyed again. */
SyncResult OpenReader(SyncEngineHandle &engine, const Reply &created, const SyncEngineConfig &c) {
  std::string why = "the engine answered no database path";
  const sync_client::SqliteApi *sqlite = created.has_text ? sync_client::SqliteApi::Get(&why) : nullptr;
  SyncResult code = created.has_text ? SYNC_RESULT_RUNTIME_UNAVAILABLE : SYNC_RESULT_UNKNOWN;
  if (sqlite) {
    engine.reader = sync_client::DocumentReader::Open(sqlite, created.text, {c.encryption_key, c.encryption_key_length}, &why);
    code = SYNC_RESULT_DATABASE;
  }
  if (engine.reader) return SYNC_RESULT_SUCCESS;
  Bridge::instance().call(ops::Destroy(), engine.id, 1000);
  Bridge::instance().detach(engine.id);
  return Fail(code, why);
}

SyncResult Open(const SyncEngineConfig &c, SyncEngineHandle **out) {
  SyncResult checked = CheckConfig(c);
  if (checked != SYNC_RESULT_SUCCESS) return checked;
  std::string why;
  if (!sync_client::EnsureRuntime(&why)) return Fail(SYNC_RESULT_RUNTIME_UNAVAILABLE, why);
  auto engine = std::make_unique<SyncEngineHandle>();
  engine->id = next_engine_id++;
  engine->call_timeout_ms = c.call_timeout_ms;
  engine->query_time_limit_ms = c.query_time_limit_ms;
  engine->events = std::make_shared<sync_client::EventQueue>(c.event_queue_limit);
  engine->state = std::make_shared<sync_client::PublishedState>();
  // Attached before the engine exists: its first events (connection attempts) must not be lost.
  Bridge::instance().attach(engine->id, engine->events, engine->state);
  Reply r = Bridge::instance().call(ops::Create(c.database_url, c.server_url, c.email, c.api_key, c.api_secret, OptionsOf(c)), engine->id,
                                    c.call_timeout_ms);
  if (r.code != SYNC_RESULT_SUCCESS) {
    Bridge::instance().detach(engine->id);
    if (r.code == SYNC_RESULT_TIMEOUT) Bridge::instance().call(ops::Destroy(), engine->id, 1000);
    return Fail(r.code, r.message);
  }
  // The reply is the database file's absolute path.
  SyncResult reading = OpenReader(*engine, r, c);
  if (reading != SYNC_RESULT_SUCCESS) return reading;
  *out = engine.release();
  return sync_client::Ok();
}

}  // namespace

extern "C" {

SYNC_API SyncResult sync_engine_config_init(SyncEngineConfig *config) {
  if (!config) return Fail(SYNC_RESULT_INVALID_INPUT, "config is NULL");
  std::memset(config, 0, sizeof *config);
  config->struct_size = sizeof *config;
  config->reconnect_min_ms = 250;
  config->reconnect_max_ms = 30000;
  config->heartbeat_interval_ms = 15000;
  config->heartbeat_timeout_ms = 10000;
  config->call_timeout_ms = 10000;
  config->event_queue_limit = 10000;
  config->durability = SYNC_DURABILITY_NORMAL;
  config->query_time_limit_ms = 2000;
  config->attachment_cache_mib = 512;
  return sync_client::Ok();
}

SYNC_API SyncResult sync_engine_open(const SyncEngineConfig *config, SyncEngineHandle **out) {
  return sync_client::Guard([&]() -> SyncResult {
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

SYNC_API SyncResult sync_engine_rekey(SyncEngineHandle *engine, const uint8_t *key, size_t key_length) {
  return sync_client::Guard([&]() -> SyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    if (sync_client::Bridge::on_runtime_thread_now()) return Fail(SYNC_RESULT_NOT_INITIALIZED, sync_client::kOnRuntimeThreadMessage);
    SyncResult checked = CheckKey("key", key, key_length);
    if (checked != SYNC_RESULT_SUCCESS) return checked;
    // The engine's connection must be the file's only one while the cipher rewrites it.
    engine->reader->pause();
    Reply r = Bridge::instance().call(ops::Rekey({key, key_length}), engine->id, kRekeyTimeoutMs);
    engine->reader->resume({key, key_length}, r.code != SYNC_RESULT_SUCCESS);
    if (r.code != SYNC_RESULT_SUCCESS) return Fail(r.code, r.message.empty() ? "rekey failed" : r.message);
    return sync_client::Ok();
  });
}

SYNC_API void sync_engine_destroy(SyncEngineHandle *engine) {
  if (!engine) return;
  try {
    // Before the engine closes the file: its connection must be the last, to remove the WAL.
    engine->reader->close();
    Bridge::instance().call(ops::Destroy(), engine->id, 1000);
    Bridge::instance().detach(engine->id);
  } catch (...) {
  }
  delete engine;
}

}  // extern "C"
