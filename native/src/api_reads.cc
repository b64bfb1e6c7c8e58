// Reads answered on the caller's thread, never waiting for the engine's: documents from the
// database file (DocumentReader), counts and the connection state from what the engine published.
#include "api_support.h"

using sync_client::CheckCaller;
using sync_client::CheckId;
using sync_client::Fail;
using sync_client::Guard;
using sync_client::Ok;
using sync_client::PublishedState;
using sync_client::ReadResult;

namespace {

/** A read of documents as JSON text into *out_json (NULL on failure), about document `*id` when `id` is given. */
template <typename Read>
SyncResult ReadJson(SyncEngineHandle *engine, char **out_json, const char *const *id, Read &&read) {
  if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
  *out_json = nullptr;
  if (id && !CheckId(*id)) return SYNC_RESULT_INVALID_INPUT;
  SyncResult usable = CheckCaller(engine);
  if (usable != SYNC_RESULT_SUCCESS) return usable;
  std::string json;
  ReadResult r = read(*engine->reader, &json);
  if (r.code != SYNC_RESULT_SUCCESS) return Fail(r.code, r.message);
  char *copy = sync_client::Duplicate(json);
  if (!copy) return Fail(SYNC_RESULT_UNKNOWN, "out of memory");
  *out_json = copy;
  return Ok();
}

/** A count the engine publishes into *out_count (0 on failure). */
SyncResult Count(SyncEngineHandle *engine, std::atomic<uint64_t> PublishedState::*count, uint64_t *out_count) {
  if (!out_count) return Fail(SYNC_RESULT_INVALID_INPUT, "out_count is NULL");
  *out_count = 0;
  SyncResult usable = CheckCaller(engine);
  if (usable != SYNC_RESULT_SUCCESS) return usable;
  *out_count = ((*engine->state).*count).load();
  return Ok();
}

}  // namespace

extern "C" {

SYNC_API SyncResult sync_engine_get_document(SyncEngineHandle *engine, const char *id, char **out_json) {
  return Guard([&]() -> SyncResult {
    return ReadJson(engine, out_json, &id, [id](sync_client::DocumentReader &reader, std::string *json) { return reader.get(id, json); });
  });
}

SYNC_API SyncResult sync_engine_get_all_documents(SyncEngineHandle *engine, char **out_json) {
  return Guard([&]() -> SyncResult {
    return ReadJson(engine, out_json, nullptr, [](sync_client::DocumentReader &reader, std::string *json) { return reader.all(json); });
  });
}

SYNC_API SyncResult sync_engine_count_documents(SyncEngineHandle *engine, uint64_t *out_count) {
  return Guard([&]() -> SyncResult { return Count(engine, &PublishedState::documents, out_count); });
}

SYNC_API SyncResult sync_engine_count_pending(SyncEngineHandle *engine, uint64_t *out_count) {
  return Guard([&]() -> SyncResult { return Count(engine, &PublishedState::pending, out_count); });
}

SYNC_API SyncResult sync_engine_is_connected(SyncEngineHandle *engine, bool *out_connected) {
  return Guard([&]() -> SyncResult {
    if (!out_connected) return Fail(SYNC_RESULT_INVALID_INPUT, "out_connected is NULL");
    *out_connected = false;
    SyncResult usable = CheckCaller(engine);
    if (usable != SYNC_RESULT_SUCCESS) return usable;
    *out_connected = engine->state->connected.load();
    return Ok();
  });
}

}  // extern "C"
