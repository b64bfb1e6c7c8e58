// The test-only entry point, linked into the test builds of the library (never the shipped one).
#include <cstring>

#include "api_support.h"
#include "test_hooks.h"

extern "C" SYNC_API enum CSyncResult sync_client_test_call(struct CSyncEngine *engine, const char *op, const char *arg) {
  return sync_client::Guard([&]() -> CSyncResult {
    if (!sync_client::CheckStrings({{"op", op}})) return SYNC_RESULT_INVALID_INPUT;
    if (std::strcmp(op, "test_process_exit") != 0 && std::strcmp(op, "test_block") != 0) {
      return sync_client::Fail(SYNC_RESULT_INVALID_INPUT, "unknown test hook");
    }
    return sync_client::Run(engine, op, {arg ? arg : ""});
  });
}
