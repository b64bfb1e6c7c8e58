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
using sync_client::RunForText;
using sync_client::RunText;
namespace ops = sync_client::ops;

namespace {

/** JS timers hold at most 2^31-1 ms. */
constexpr uint32_t kMaxTimerMs = 2147483647u;

/** The checks of an operation on document `id`, with a JSON argument named `what` when there is one. */
bool CheckDocumentArgs(const char *id, const char *what = nullptr, const char *json = nullptr) {
  return CheckId(id) && (!what || CheckStrings({{what, json}}));
}

/** An operation answering JSON text into *out_json (NULL on failure), once its arguments passed `checked`. */
template <typename Checked, typename MakeOp>
SyncResult Query(SyncEngineHandle *engine, char **out_json, Checked &&checked, MakeOp &&make_op) {
  if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
  *out_json = nullptr;
  if (!checked()) return SYNC_RESULT_INVALID_INPUT;
  return RunText(engine, make_op(), out_json);
}

}  // namespace

extern "C" {

SYNC_API SyncResult sync_engine_create_document(SyncEngineHandle *engine, const char *json, char out_id[SYNC_DOCUMENT_ID_SIZE]) {
  return Guard([&]() -> SyncResult {
    if (!out_id) return Fail(SYNC_RESULT_INVALID_INPUT, "out_id is NULL");
    out_id[0] = '\0';
    if (!CheckStrings({{"json", json}})) return SYNC_RESULT_INVALID_INPUT;
    return RunForText(engine, ops::CreateDocument(json), [out_id](const std::string &id) {
      if (id.size() != SYNC_DOCUMENT_ID_SIZE - 1) return Fail(SYNC_RESULT_UNKNOWN, "the engine returned a malformed id");
      std::memcpy(out_id, id.c_str(), SYNC_DOCUMENT_ID_SIZE);
      return Ok();
    });
  });
}

SYNC_API SyncResult sync_engine_create_documents(SyncEngineHandle *engine, const char *json_array, char **out_ids_json) {
  return Guard([&]() -> SyncResult {
    if (!out_ids_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_ids_json is NULL");
    *out_ids_json = nullptr;
    if (!CheckStrings({{"json_array", json_array}})) return SYNC_RESULT_INVALID_INPUT;
    return RunText(engine, ops::CreateDocuments(json_array), out_ids_json);
  });
}

SYNC_API SyncResult sync_engine_create_document_with_id(SyncEngineHandle *engine, const char *id, const char *json) {
  return Guard([&]() -> SyncResult { if (!CheckDocumentArgs(id, "json", json)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::CreateDocumentWithId(id, json)); });
}

SYNC_API SyncResult sync_engine_update_document(SyncEngineHandle *engine, const char *id, const char *json) {
  return Guard([&]() -> SyncResult { if (!CheckDocumentArgs(id, "json", json)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::UpdateDocument(id, json)); });
}

SYNC_API SyncResult sync_engine_patch_document(SyncEngineHandle *engine, const char *id, const char *patch_json) {
  return Guard([&]() -> SyncResult { if (!CheckDocumentArgs(id, "patch_json", patch_json)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::PatchDocument(id, patch_json)); });
}

SYNC_API SyncResult sync_engine_merge_document(SyncEngineHandle *engine, const char *id, const char *merge_json) {
  return Guard([&]() -> SyncResult { if (!CheckDocumentArgs(id, "merge_json", merge_json)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::MergeDocument(id, merge_json)); });
}

SYNC_API SyncResult sync_engine_delete_document(SyncEngineHandle *engine, const char *id) {
  return Guard([&]() -> SyncResult { if (!CheckDocumentArgs(id)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::DeleteDocument(id)); });
}

SYNC_API SyncResult sync_engine_flush(SyncEngineHandle *engine, uint32_t timeout_ms) {
  return Guard([&]() -> SyncResult {
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    // The bridge waits a little longer than the engine's own timeout.
    uint32_t engine_ms = timeout_ms > kMaxTimerMs ? kMaxTimerMs : timeout_ms;
    uint64_t wait_ms = static_cast<uint64_t>(engine_ms) + engine->call_timeout_ms;
    Reply r = Bridge::instance().call(ops::Flush(engine_ms), engine->id, static_cast<uint32_t>(wait_ms > UINT32_MAX ? UINT32_MAX : wait_ms));
    if (r.code != SYNC_RESULT_SUCCESS) return Fail(r.code, r.message);
    return Ok();
  });
}

SYNC_API SyncResult sync_engine_set_online(SyncEngineHandle *engine, bool online) {
  return Guard([&]() -> SyncResult { return Run(engine, ops::SetOnline(online)); });
}

SYNC_API SyncResult sync_engine_undo(SyncEngineHandle *engine, const char *id) {
  return Guard([&]() -> SyncResult { if (!CheckDocumentArgs(id)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::Undo(id)); });
}

SYNC_API SyncResult sync_engine_redo(SyncEngineHandle *engine, const char *id) {
  return Guard([&]() -> SyncResult { if (!CheckDocumentArgs(id)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::Redo(id)); });
}

SYNC_API SyncResult sync_engine_get_history(SyncEngineHandle *engine, const char *id, char **out_json) {
  return Guard([&]() -> SyncResult { return Query(engine, out_json, [id] { return CheckId(id); }, [id] { return ops::GetHistory(id); }); });
}

SYNC_API SyncResult sync_engine_get_conflicts(SyncEngineHandle *engine, char **out_json) {
  return Guard([&]() -> SyncResult { return Query(engine, out_json, [] { return true; }, [] { return ops::GetConflicts(); }); });
}

}  // extern "C"
