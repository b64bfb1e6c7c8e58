// The test-only entry points, linked into the test builds of the library (never the shipped one).
#include "api_support.h"
#include "contract/test_ops.h"
#include "sqlite_api.h"
#include "test_hooks.h"

extern "C" SYNC_API SyncResult sync_client_test_process_exit(SyncEngineHandle *engine) {
  return sync_client::Guard([&]() -> SyncResult { return sync_client::Run(engine, sync_client::ops::TestProcessExit()); });
}

extern "C" SYNC_API SyncResult sync_client_test_block(SyncEngineHandle *engine, uint32_t ms) {
  return sync_client::Guard([&]() -> SyncResult { return sync_client::Run(engine, sync_client::ops::TestBlock(ms)); });
}

extern "C" SYNC_API SyncResult sync_client_test_sqlite_origin(char **out_json) {
  return sync_client::Guard([&]() -> SyncResult {
    if (!out_json) return sync_client::Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = sync_client::Duplicate(sync_client::DescribeSqliteOrigin());
    return sync_client::Ok();
  });
}

extern "C" SYNC_API SyncResult sync_client_test_read_once(SyncEngineHandle *engine) {
  return sync_client::Guard([&]() -> SyncResult {
    if (!engine) return sync_client::Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    std::string why, json;
    std::shared_ptr<sync_client::DocumentReader> reader = engine->reader->another(&why);
    if (!reader) return sync_client::Fail(SYNC_RESULT_DATABASE, why);
    sync_client::ReadResult r = reader->all(&json);
    if (r.code != SYNC_RESULT_SUCCESS) return sync_client::Fail(r.code, r.message);
    return sync_client::Ok();
  });
}
