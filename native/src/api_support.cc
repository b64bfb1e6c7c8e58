#include "api_support.h"

#include <cstdlib>
#include <cstring>

#include "utf8.h"

namespace sync_client {

namespace {
thread_local std::string last_error;

/** A lowercase canonical UUID: 8-4-4-4-12 lowercase hex digits. */
bool IsUuid(const char *s) {
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s[36] == '\0';
}
}  // namespace

CSyncResult Fail(int code, const std::string &message) {
  last_error = message;
  return static_cast<CSyncResult>(code);
}

CSyncResult Ok() {
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

char *Duplicate(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

CSyncResult Run(CSyncEngine *engine, const char *op, std::vector<std::string> args) {
  return Run(engine, op, std::move(args), [](const Reply &) { return Ok(); });
}

CSyncResult RunText(CSyncEngine *engine, const char *op, std::vector<std::string> args, char **out) {
  return Run(engine, op, std::move(args), [out](const Reply &r) {
    char *copy = Duplicate(r.text);
    if (!copy) return Fail(SYNC_RESULT_UNKNOWN, "out of memory");
    *out = copy;
    return Ok();
  });
}

}  // namespace sync_client
