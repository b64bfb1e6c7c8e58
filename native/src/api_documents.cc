// Document operations that go to the engine's thread: argument checks, then one call into the engine.
// (Reads of documents, counts and the connection state are answered on the caller's thread: api_reads.cc.)
#include <cstring>

#include "api_support.h"

using sync_client::Bridge;
using sync_client::CheckId;
using sync_client::CheckStrings;
using sync_client::Fail;
using sync_client::Guard;
using sync_client::Ok;
using sync_client::Reply;
using sync_client::Run;
using sync_client::RunText;

namespace {

/** JS timers hold at most 2^31-1 ms. */
constexpr uint32_t kMaxTimerMs = 2147483647u;

/** An operation on document `id`, with a JSON argument named `what` when there is one: both checked, then run. */
CSyncResult RunOnDocument(CSyncEngine *engine, const char *op, const char *id, const char *what = nullptr, const char *json = nullptr) {
  if (!CheckId(id) || (what && !CheckStrings({{what, json}}))) return SYNC_RESULT_INVALID_INPUT;
  return what ? Run(engine, op, {id, json}) : Run(engine, op, {id});
}

/** An operation answering JSON text into *out_json (NULL on failure), about document `*id` when `id` is given. */
CSyncResult Query(CSyncEngine *engine, const char *op, char **out_json, const char *const *id = nullptr) {
  if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
  *out_json = nullptr;
  if (id && !CheckId(*id)) return SYNC_RESULT_INVALID_INPUT;
  return RunText(engine, op, id ? std::vector<std::string>{*id} : std::vector<std::string>{}, out_json);
}

}  // namespace

extern "C" {

SYNC_API enum CSyncResult sync_engine_create_document(struct CSyncEngine *engine, const char *json, char out_id[SYNC_DOCUMENT_ID_SIZE]) {
  return Guard([&]() -> CSyncResult {
    if (!out_id) return Fail(SYNC_RESULT_INVALID_INPUT, "out_id is NULL");
    out_id[0] = '\0';
    if (!CheckStrings({{"json", json}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, "create_document", {json}, [out_id](const Reply &r) {
      if (r.text.size() != SYNC_DOCUMENT_ID_SIZE - 1) return Fail(SYNC_RESULT_UNKNOWN, "the engine returned a malformed id");
      std::memcpy(out_id, r.text.c_str(), SYNC_DOCUMENT_ID_SIZE);
      return Ok();
    });
  });
}

SYNC_API enum CSyncResult sync_engine_create_documents(struct CSyncEngine *engine, const char *json_array, char **out_ids_json) {
  return Guard([&]() -> CSyncResult {
    if (!out_ids_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_ids_json is NULL");
    *out_ids_json = nullptr;
    if (!CheckStrings({{"json_array", json_array}})) return SYNC_RESULT_INVALID_INPUT;
    return RunText(engine, "create_documents", {json_array}, out_ids_json);
  });
}

SYNC_API enum CSyncResult sync_engine_create_document_with_id(struct CSyncEngine *engine, const char *id, const char *json) {
  return Guard([&]() -> CSyncResult { return RunOnDocument(engine, "create_document_with_id", id, "json", json); });
}

SYNC_API enum CSyncResult sync_engine_update_document(struct CSyncEngine *engine, const char *id, const char *json) {
  return Guard([&]() -> CSyncResult { return RunOnDocument(engine, "update_document", id, "json", json); });
}

SYNC_API enum CSyncResult sync_engine_patch_document(struct CSyncEngine *engine, const char *id, const char *patch_json) {
  return Guard([&]() -> CSyncResult { return RunOnDocument(engine, "patch_document", id, "patch_json", patch_json); });
}

SYNC_API enum CSyncResult sync_engine_merge_document(struct CSyncEngine *engine, const char *id, const char *merge_json) {
  return Guard([&]() -> CSyncResult { return RunOnDocument(engine, "merge_document", id, "merge_json", merge_json); });
}

SYNC_API enum CSyncResult sync_engine_delete_document(struct CSyncEngine *engine, const char *id) {
  return Guard([&]() -> CSyncResult { return RunOnDocument(engine, "delete_document", id); });
}

SYNC_API enum CSyncResult sync_engine_flush(struct CSyncEngine *engine, uint32_t timeout_ms) {
  return Guard([&]() -> CSyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    // The bridge waits a little longer than the engine's own timeout.
    uint32_t engine_ms = timeout_ms > kMaxTimerMs ? kMaxTimerMs : timeout_ms;
    uint64_t wait_ms = static_cast<uint64_t>(engine_ms) + engine->call_timeout_ms;
    Reply r = Bridge::instance().call("flush", engine->id, {std::to_string(engine_ms)},
                                      static_cast<uint32_t>(wait_ms > UINT32_MAX ? UINT32_MAX : wait_ms));
    if (r.code != SYNC_RESULT_SUCCESS) return Fail(r.code, r.message);
    return Ok();
  });
}

SYNC_API enum CSyncResult sync_engine_set_online(struct CSyncEngine *engine, bool online) {
  return Guard([&]() -> CSyncResult { return Run(engine, "set_online", {online ? "1" : "0"}); });
}

SYNC_API enum CSyncResult sync_engine_undo(struct CSyncEngine *engine, const char *id) {
  return Guard([&]() -> CSyncResult { return RunOnDocument(engine, "undo", id); });
}

SYNC_API enum CSyncResult sync_engine_redo(struct CSyncEngine *engine, const char *id) {
  return Guard([&]() -> CSyncResult { return RunOnDocument(engine, "redo", id); });
}

SYNC_API enum CSyncResult sync_engine_get_history(struct CSyncEngine *engine, const char *id, char **out_json) {
  return Guard([&]() -> CSyncResult { return Query(engine, "get_history", out_json, &id); });
}

SYNC_API enum CSyncResult sync_engine_get_conflicts(struct CSyncEngine *engine, char **out_json) {
  return Guard([&]() -> CSyncResult { return Query(engine, "get_conflicts", out_json); });
}

}  // extern "C"
