// Attachments (docs/protocol.md, "Attachments"): argument checks, then one call into the engine.
// The bytes go through the bridge, not through a reader connection of the C side's own: the
// engine's attachment store is its own business (its tables may hold an attachment in pieces, and
// a download in progress beside it), and one copy across the bridge costs little beside reading
// the bytes at all.
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "api_support.h"

using sync_client::ByteSpan;
using sync_client::CheckAttachmentId;
using sync_client::CheckStrings;
using sync_client::Fail;
using sync_client::Guard;
using sync_client::Ok;
using sync_client::Reply;
using sync_client::Run;
using sync_client::RunText;
using sync_client::RunWaitingText;
using sync_client::RunWaiting;
namespace ops = sync_client::ops;

namespace {

/**
 * How long the calls that move an attachment's bytes wait: their time grows with the size (up to
 * the server's max_attachment_bytes, a gigabyte by default) and, for a save, with the network, so
 * not call_timeout_ms but an hour. Their outcome is safe to find out by repeating them: the same
 * bytes are the same attachment.
 */
constexpr uint32_t kAttachmentTimeoutMs = 3600 * 1000;

/** A content type argument: NULL (the engine's default) or valid UTF-8 (the engine checks the rest). */
bool CheckContentType(const char *content_type) { return !content_type || CheckStrings({{"content_type", content_type}}); }

/** A file path argument: present, UTF-8 (it crosses into JavaScript as a string) and not empty. */
bool CheckPath(const char *path) {
  if (!CheckStrings({{"path", path}})) return false;
  if (path[0] == '\0') {
    Fail(SYNC_RESULT_INVALID_INPUT, "path is empty");
    return false;
  }
  return true;
}

}  // namespace

extern "C" {

SYNC_API SyncResult sync_engine_add_attachment(SyncEngineHandle *engine, const void *bytes, size_t length, const char *content_type,
                                               char **out_reference) {
  return Guard([&]() -> SyncResult {
    if (!out_reference) return Fail(SYNC_RESULT_INVALID_INPUT, "out_reference is NULL");
    *out_reference = nullptr;
    if (!bytes && length > 0) return Fail(SYNC_RESULT_INVALID_INPUT, "bytes is NULL but length is not 0");
    if (!CheckContentType(content_type)) return SYNC_RESULT_INVALID_INPUT;
    // Before the call copies the bytes.
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    return RunWaitingText(engine, kAttachmentTimeoutMs, ops::AddAttachment(ByteSpan{bytes, length}, content_type), out_reference);
  });
}

SYNC_API SyncResult sync_engine_add_attachment_file(SyncEngineHandle *engine, const char *path, const char *content_type, char **out_reference) {
  return Guard([&]() -> SyncResult {
    if (!out_reference) return Fail(SYNC_RESULT_INVALID_INPUT, "out_reference is NULL");
    *out_reference = nullptr;
    if (!CheckPath(path) || !CheckContentType(content_type)) return SYNC_RESULT_INVALID_INPUT;
    return RunWaitingText(engine, kAttachmentTimeoutMs, ops::AddAttachmentFile(path, content_type), out_reference);
  });
}

SYNC_API SyncResult sync_engine_get_attachment(SyncEngineHandle *engine, const char *attachment_id, void **out_bytes, size_t *out_length) {
  return Guard([&]() -> SyncResult {
    if (out_bytes) *out_bytes = nullptr;
    if (out_length) *out_length = 0;
    if (!out_bytes) return Fail(SYNC_RESULT_INVALID_INPUT, "out_bytes is NULL");
    if (!out_length) return Fail(SYNC_RESULT_INVALID_INPUT, "out_length is NULL");
    if (!CheckAttachmentId(attachment_id)) return SYNC_RESULT_INVALID_INPUT;
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    return RunWaiting(engine, kAttachmentTimeoutMs, ops::GetAttachment(attachment_id), [&](Reply &r) {
      if (!r.has_bytes) return Fail(SYNC_RESULT_UNKNOWN, "the engine answered no bytes");
      *out_length = r.bytes_length;
      *out_bytes = r.bytes.release();
      return Ok();
    });
  });
}

SYNC_API SyncResult sync_engine_save_attachment(SyncEngineHandle *engine, const char *attachment_id, const char *path) {
  return Guard([&]() -> SyncResult {
    if (!CheckAttachmentId(attachment_id) || !CheckPath(path)) return SYNC_RESULT_INVALID_INPUT;
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    return RunWaiting(engine, kAttachmentTimeoutMs, ops::SaveAttachment(attachment_id, path), [](const Reply &) { return Ok(); });
  });
}

SYNC_API SyncResult sync_engine_fetch_attachment(SyncEngineHandle *engine, const char *attachment_id) {
  return Guard([&]() -> SyncResult {
    if (!CheckAttachmentId(attachment_id)) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::FetchAttachment(attachment_id));
  });
}

SYNC_API SyncResult sync_engine_attachment_state(SyncEngineHandle *engine, const char *attachment_id, char **out_json) {
  return Guard([&]() -> SyncResult {
    if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = nullptr;
    if (!CheckAttachmentId(attachment_id)) return SYNC_RESULT_INVALID_INPUT;
    return RunText(engine, ops::AttachmentState(attachment_id), out_json);
  });
}

SYNC_API SyncResult sync_engine_count_pending_attachments(SyncEngineHandle *engine, uint64_t *out_count) {
  return Guard([&]() -> SyncResult {
    if (!out_count) return Fail(SYNC_RESULT_INVALID_INPUT, "out_count is NULL");
    *out_count = 0;
    return sync_client::RunForText(engine, ops::PendingAttachmentUploads(), [out_count](const std::string &text) {
      char *end = nullptr;
      errno = 0;
      unsigned long long n = std::strtoull(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno != 0) return Fail(SYNC_RESULT_UNKNOWN, "the engine answered a malformed count");
      *out_count = n;
      return Ok();
    });
  });
}

SYNC_API void sync_bytes_free(void *bytes) { std::free(bytes); }

}  // extern "C"
