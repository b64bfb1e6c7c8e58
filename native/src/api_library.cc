// Process-wide entry points: version, string ownership, last error, log routing.
#include <cstdlib>

#include "api_support.h"

namespace {
/** The one version string: sync_get_version() (api_compat.cc) hands it out as a `char *` that sync_string_free() must recognise. */
const char version[] = SYNC_CLIENT_VERSION;
}  // namespace

extern "C" {

SYNC_API SyncResult sync_library_version(const char **out_version) {
  if (!out_version) return sync_client::Fail(SYNC_RESULT_INVALID_INPUT, "out_version is NULL");
  *out_version = version;
  return sync_client::Ok();
}

SYNC_API void sync_string_free(char *str) {
  if (str != version) std::free(str);
}

SYNC_API const char *sync_last_error_message(void) { return sync_client::LastErrorMessage(); }

SYNC_API SyncResult sync_set_log_callback(SyncLogCallback callback, void *context) {
  return sync_client::Guard([&]() -> SyncResult {
    sync_client::Bridge::instance().set_log_sink(reinterpret_cast<sync_client::LogSink>(callback), context);
    return sync_client::Ok();
  });
}

}  // extern "C"
