#include "api_support.h"

#include <cstdlib>
#include <cstring>

#include "utf8.h"

namespace sync_client {

namespace {
thread_local std::string last_error;

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

/** A lowercase canonical UUID: 8-4-4-4-12 lowercase hex digits. */
bool IsUuid(const char *s) {
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !IsLowerHex(c)) return false;
  }
  return s[36] == '\0';
}

/** An attachment id: "sha256-" and the 64 lowercase hex digits of the bytes' SHA-256. */
bool IsAttachmentId(const char *s) {
  if (std::strncmp(s, "sha256-", 7) != 0) return false;
  for (int i = 7; i < 7 + 64; i++) {
    if (!IsLowerHex(s[i])) return false;
  }
  return s[7 + 64] == '\0';
}
}  // namespace

SyncResult Fail(int code, const std::string &message) {
  last_error = message;
  return static_cast<SyncResult>(code);
}

SyncResult Ok() {
  last_error.clear();
  return SYNC_RESULT_SUCCESS;
}

const char *LastErrorMessage() { return last_error.c_str(); }

bool CheckStrings(std::initializer_list<std::pair<const char *, const char *>> args) {
  for (const auto &[name, value] : args) {
    if (!value) {
      last_error = std::string(name) + " is NULL";
      return false;
    }
    if (!IsValidUtf8(value)) {
      last_error = std::string(name) + " is not valid UTF-8";
      return false;
    }
  }
  return true;
}

bool CheckId(const char *id) {
  if (!CheckStrings({{"id", id}})) return false;
  if (!IsUuid(id)) {
    last_error = "id must be a lowercase canonical UUID";
    return false;
  }
  return true;
}

bool CheckAttachmentId(const char *attachment_id) {
  if (!CheckStrings({{"attachment_id", attachment_id}})) return false;
  if (!IsAttachmentId(attachment_id)) {
    last_error = "attachment_id must be \"sha256-\" and 64 lowercase hex digits";
    return false;
  }
  return true;
}

char *Duplicate(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

SyncResult CheckCaller(SyncEngineHandle *engine) {
  if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
  if (Bridge::on_runtime_thread_now()) return Fail(SYNC_RESULT_NOT_INITIALIZED, kOnRuntimeThreadMessage);
  return SYNC_RESULT_SUCCESS;
}

SyncResult Run(SyncEngineHandle *engine, Op<NoResult> op) {
  return Run(engine, std::move(op), [](const Reply &) { return Ok(); });
}

SyncResult RunWaitingText(SyncEngineHandle *engine, uint32_t timeout_ms, Op<TextResult> op, char **out) {
  return RunWaitingForText(engine, timeout_ms, std::move(op), [out](const std::string &text) {
    char *copy = Duplicate(text);
    if (!copy) return Fail(SYNC_RESULT_UNKNOWN, "out of memory");
    *out = copy;
    return Ok();
  });
}

SyncResult RunText(SyncEngineHandle *engine, Op<TextResult> op, char **out) {
  if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
  return RunWaitingText(engine, engine->call_timeout_ms, std::move(op), out);
}

}  // namespace sync_client
