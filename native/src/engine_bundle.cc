// Which engine bundle a library build loads: compiled into each library (not the shared object
// library) with its own SYNC_ENGINE_BUNDLE, so the shipped one never loads the test builds' host.
#include "runtime.h"

namespace sync_client {
const char kEngineBundle[] = SYNC_ENGINE_BUNDLE;
}
