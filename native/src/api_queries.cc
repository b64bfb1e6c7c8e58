// Queries (docs/queries.md): answered on the calling thread from the database file, with the
// statement the engine compiled for the query text (compiled once per text and schema); indexes
// and explain on the engine's thread; live queries opened there, their diffs delivered by
// sync_engine_process_events (api_events.cc).
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>

#include "api_support.h"

using sync_client::CheckCaller;
using sync_client::CheckStrings;
using sync_client::Fail;
using sync_client::Guard;
using sync_client::Ok;
using sync_client::ReadResult;
using sync_client::Run;
using sync_client::RunForText;
using sync_client::RunText;
namespace ops = sync_client::ops;

namespace {

/**
 * The statement for `query` as the file's schema is now: from the cache, or compiled by the engine
 * ("" when only its own connection can run the query).
 */
SyncResult StatementFor(SyncEngineHandle *engine, const std::string &query, std::string *sql) {
  int64_t schema = 0;
  ReadResult read = engine->reader->schemaVersion(&schema);
  if (read.code != SYNC_RESULT_SUCCESS) return Fail(read.code, read.message);
  if (engine->queries.find(query, schema, sql)) return SYNC_RESULT_SUCCESS;
  // The cookie read before compiling: an index created meanwhile makes the entry stale, never wrong.
  return RunForText(engine, ops::CompileQuery(query), [&](const std::string &compiled) {
    engine->queries.put(query, schema, compiled);
    *sql = compiled;
    return SYNC_RESULT_SUCCESS;
  });
}

SyncResult RunQuery(SyncEngineHandle *engine, const char *query_json, char **out_json) {
  if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
  *out_json = nullptr;
  if (!CheckStrings({{"query_json", query_json}})) return SYNC_RESULT_INVALID_INPUT;
  SyncResult usable = CheckCaller(engine);
  if (usable != SYNC_RESULT_SUCCESS) return usable;
  std::string query(query_json);
  std::string json;
  // Twice at most: an index dropped between compiling and running makes the statement stale once.
  for (int attempt = 0; attempt < 2; attempt++) {
    std::string sql;
    SyncResult compiled = StatementFor(engine, query, &sql);
    if (compiled != SYNC_RESULT_SUCCESS) return compiled;
    if (sql.empty()) return RunText(engine, ops::Query(query), out_json);
    bool stale = false;
    ReadResult r = engine->reader->query(sql, engine->query_time_limit_ms, &json, &stale);
    if (r.code == SYNC_RESULT_SUCCESS) {
      char *copy = sync_client::Duplicate(json);
      if (!copy) return Fail(SYNC_RESULT_UNKNOWN, "out of memory");
      *out_json = copy;
      return Ok();
    }
    if (!stale || attempt == 1) return Fail(r.code, r.message);
  }
  return Fail(SYNC_RESULT_UNKNOWN, "unreachable");
}

/** Takes the live query out of its engine's list; waits for a delivery running on another thread. */
void Close(SyncLiveQuery *query) {
  SyncEngineHandle *engine = query->engine;
  uint32_t id = query->id;
  {
    std::lock_guard<std::recursive_mutex> delivering(engine->delivery_mutex);
    std::lock_guard<std::mutex> lock(engine->listeners_mutex);
    query->closed = true;
    auto &all = engine->live_queries;
    all.erase(std::remove_if(all.begin(), all.end(), [query](const std::shared_ptr<SyncLiveQuery> &q) { return q.get() == query; }), all.end());
  }
  // Stops the engine's work for it; diffs already queued find no live query and are skipped.
  Run(engine, ops::UnwatchQuery(id));
}

}  // namespace

extern "C" {

SYNC_API SyncResult sync_engine_query(SyncEngineHandle *engine, const char *query_json, char **out_json) {
  return Guard([&]() -> SyncResult { return RunQuery(engine, query_json, out_json); });
}

SYNC_API SyncResult sync_engine_explain_query(SyncEngineHandle *engine, const char *query_json, char **out_json) {
  return Guard([&]() -> SyncResult {
    if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = nullptr;
    if (!CheckStrings({{"query_json", query_json}})) return SYNC_RESULT_INVALID_INPUT;
    return RunText(engine, ops::ExplainQuery(query_json), out_json);
  });
}

SYNC_API SyncResult sync_engine_create_index(SyncEngineHandle *engine, const char *spec_json) {
  return Guard([&]() -> SyncResult {
    if (!CheckStrings({{"spec_json", spec_json}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::CreateIndex(spec_json));
  });
}

SYNC_API SyncResult sync_engine_create_text_index(SyncEngineHandle *engine, const char *spec_json) {
  return Guard([&]() -> SyncResult {
    if (!CheckStrings({{"spec_json", spec_json}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::CreateTextIndex(spec_json));
  });
}

SYNC_API SyncResult sync_engine_drop_index(SyncEngineHandle *engine, const char *name) {
  return Guard([&]() -> SyncResult {
    if (!CheckStrings({{"name", name}})) return SYNC_RESULT_INVALID_INPUT;
    return Run(engine, ops::DropIndex(name));
  });
}

SYNC_API SyncResult sync_engine_list_indexes(SyncEngineHandle *engine, char **out_json) {
  return Guard([&]() -> SyncResult {
    if (!out_json) return Fail(SYNC_RESULT_INVALID_INPUT, "out_json is NULL");
    *out_json = nullptr;
    return RunText(engine, ops::ListIndexes(), out_json);
  });
}

SYNC_API SyncResult sync_engine_watch_query(SyncEngineHandle *engine, const char *query_json, uint32_t flags, SyncQueryCallback callback,
                                            void *context, SyncLiveQuery **out) {
  return Guard([&]() -> SyncResult {
    if (!out) return Fail(SYNC_RESULT_INVALID_INPUT, "out is NULL");
    *out = nullptr;
    if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
    if (!callback) return Fail(SYNC_RESULT_INVALID_INPUT, "callback is NULL");
    if ((flags & ~SYNC_WATCH_TOTAL) != 0) return Fail(SYNC_RESULT_INVALID_INPUT, "flags must be 0 or SYNC_WATCH_TOTAL");
    if (!CheckStrings({{"query_json", query_json}})) return SYNC_RESULT_INVALID_INPUT;
    auto query = std::make_shared<SyncLiveQuery>(SyncLiveQuery{engine, 0, callback, context});
    {
      // Listed before the engine opens it: its first diff may be queued before the call returns.
      std::lock_guard<std::mutex> lock(engine->listeners_mutex);
      query->id = engine->next_live_query_id++;
      engine->live_queries.push_back(query);
    }
    SyncResult opened = Run(engine, ops::WatchQuery(query->id, query_json, (flags & SYNC_WATCH_TOTAL) != 0));
    if (opened != SYNC_RESULT_SUCCESS) {
      std::string why = sync_client::LastErrorMessage();
      std::lock_guard<std::mutex> lock(engine->listeners_mutex);
      auto &all = engine->live_queries;
      all.erase(std::remove(all.begin(), all.end(), query), all.end());
      return Fail(opened, why);
    }
    *out = query.get();
    return Ok();
  });
}

SYNC_API void sync_live_query_close(SyncLiveQuery *query) {
  if (!query) return;
  try {
    Close(query);
  } catch (...) {
    // Only a failing mutex or allocation can throw here; there is nothing to report it to.
  }
}

}  // extern "C"
