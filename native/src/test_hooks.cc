// The test-only entry point, linked into the test builds of the library (never the shipped one).
#include <cstring>

#include "api_support.h"
#include "sqlite_api.h"
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

extern "C" SYNC_API enum CSyncResult sync_client_test_sqlite_origin(char **out_json) {
  return sync_client::Guard([&]() -> CSyncResult {
    if (!out_json) return sync_client::Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = sync_client::Duplicate(sync_client::DescribeSqliteOrigin());
    return sync_client::Ok();
  });
}

extern "C" SYNC_API enum CSyncResult sync_client_test_read_once(struct CSyncEngine *engine) {
  return sync_client::Guard([&]() -> CSyncResult {
    if (!engine) return sync_client::Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    std::string why, json;
    const sync_client::SqliteApi *api = sync_client::SqliteApi::Get(&why);
    std::shared_ptr<sync_client::DocumentReader> reader = api ? sync_client::DocumentReader::Open(api, engine->reader->path(), &why) : nullptr;
    if (!reader) return sync_client::Fail(SYNC_RESULT_DATABASE, why);
    sync_client::ReadResult r = reader->all(&json);
    if (r.code != SYNC_RESULT_SUCCESS) return sync_client::Fail(r.code, r.message);
    return sync_client::Ok();
  });
}
