// Process-wide entry points: version, string ownership, last error, log routing.
#include <cstdlib>

#include "api_support.h"

namespace {
/**
 * Not a string literal: the seed's callers treat the version as a `char *` they may pass to
 * sync_string_free(), which recognises this array and leaves it alone.
 */
char version[] = SYNC_CLIENT_VERSION;
}  // namespace

extern "C" {

SYNC_API char *sync_get_version(void) { return version; }

SYNC_API void sync_string_free(char *str) {
  if (str != version) std::free(str);
}

SYNC_API const char *sync_last_error_message(void) { return sync_client::LastErrorMessage(); }

SYNC_API void sync_set_log_callback(SyncLogCallback callback, void *context) {
  sync_client::Bridge::instance().set_log_sink(reinterpret_cast<sync_client::LogSink>(callback), context);
}

}  // extern "C"
