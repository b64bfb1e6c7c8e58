// Queries through the C++ wrapper: query/explain/indexes throw sync_exception with the C code;
// watch() returns a move-only live_query that stops the watch when destroyed, may close itself
// inside its callback, may be released to live as long as the engine, and is harmless after it.
#include <string>
#include <thread>
#include <vector>

#include "cpp_common.hpp"

using SyncClient::live_query;
using SyncClient::sync_engine;
using namespace cpptest;

static TestEnv env;

int main() {
  test_env_load(&env);
  std::string email = unique_email("cpp-queries");
  SyncEngineConfig c;
  test_config(&c, &env, "cpp-queries", email.c_str());
  c.start_offline = true;
  {
    sync_engine e(c);
    SECTION("query", {
      e.create_documents(R"([{"status":"open","n":1},{"status":"done","n":2},{"status":"open","n":3}])");
      std::string page = e.query(R"({"where":{"status":"open"},"sort":[{"n":"desc"}]})");
      CHECK(occurrences(page, "\"status\":\"open\"") == 2);
      CHECK(page.find("\"n\":3") < page.find("\"n\":1"));
      CHECK(contains(e.query(R"({"where":{"n":{"$gt":1}},"count":true})"), "\"count\":2"));
      e.create_index(R"({"name":"by_n","fields":["n"]})");
      CHECK(contains(e.explain_query(R"({"where":{"n":2}})"), "\"index\":\"by_n\""));
      CHECK(contains(e.list_indexes(), "by_n"));
      e.drop_index("by_n");
      CHECK_THROWS_CODE(e.drop_index("by_n"), SYNC_RESULT_NOT_FOUND);
      CHECK_THROWS_CODE(e.query(R"({"where":{"n":{"$inn":[1]}}})"), SYNC_RESULT_INVALID_INPUT);
      CHECK_THROWS_CODE(e.query("not json"), SYNC_RESULT_INVALID_INPUT);
      CHECK_THROWS_CODE(e.create_text_index(R"({"fields":["title"]})"), SYNC_RESULT_INVALID_INPUT);
    });

    SECTION("watch", {
      std::vector<std::string> diffs;
      std::thread::id host = std::this_thread::get_id();
      bool wrong_thread = false;
      live_query open = e.watch(
          R"({"where":{"status":"open"},"sort":[{"n":"asc"}]})",
          [&](const std::string &diff) {
            diffs.push_back(diff);
            if (std::this_thread::get_id() != host) wrong_thread = true;
          },
          true);
      CHECK(static_cast<bool>(open));
      CHECK(pump_until(e, [&] { return diffs.size() == 1; }, 10000));
      CHECK(occurrences(diffs[0], "\"status\":\"open\"") == 2 && contains(diffs[0], "\"total\":2"));
      std::string id = e.create_document(R"({"status":"open","n":0})");
      CHECK(pump_until(e, [&] { return diffs.size() == 2; }, 10000));
      CHECK(contains(diffs[1], "\"index\":0") && contains(diffs[1], "\"total\":3"));
      // A move keeps it running; destroying the owner stops it.
      live_query moved = std::move(open);
      CHECK(!open && static_cast<bool>(moved));
      e.merge_document(id, R"({"n":10})");
      CHECK(pump_until(e, [&] { return diffs.size() == 3; }, 10000));
      moved = live_query();
      e.merge_document(id, R"({"n":11})");
      pump_until(e, [&] { return diffs.size() == 4; }, 300);
      CHECK(diffs.size() == 3 && !wrong_thread);
    });

    SECTION("closed inside its own callback; an exception thrown there stays in the wrapper", {
      int calls = 0;
      live_query self;
      self = e.watch(R"({"where":{"n":{"$gte":100}}})", [&](const std::string &) {
        calls++;
        if (calls == 2) self.close();
        throw std::runtime_error("not for the C library");
      });
      CHECK(pump_until(e, [&] { return calls == 1; }, 10000));
      e.create_document(R"({"n":100})");
      CHECK(pump_until(e, [&] { return calls == 2; }, 10000));
      e.create_document(R"({"n":101})");
      pump_until(e, [&] { return calls == 3; }, 300);
      CHECK(calls == 2 && !self);
    });

    SECTION("released: runs until the engine goes", {
      int calls = 0;
      {
        live_query kept = e.watch(R"({"where":{"n":{"$lt":0}}})", [&](const std::string &) { calls++; });
        kept.release();
      }
      CHECK(pump_until(e, [&] { return calls == 1; }, 10000));
      e.create_document(R"({"n":-1})");
      CHECK(pump_until(e, [&] { return calls == 2; }, 10000));
    });

    SECTION("bad input", {
      CHECK_THROWS_CODE(e.watch(R"({"where":{"a":{"$bad":1}}})", [](const std::string &) {}), SYNC_RESULT_INVALID_INPUT);
      CHECK_THROWS_CODE(e.watch("[]", [](const std::string &) {}), SYNC_RESULT_INVALID_INPUT);
    });

    // A live query that outlives its engine: closing it then does nothing.
    live_query late = e.watch(R"({})", [](const std::string &) {});
    e.close();
    late.close();
    CHECK(!late);
    CHECK_THROWS_CODE(e.query("{}"), SYNC_RESULT_NOT_INITIALIZED);
  }
  return test_finish("cpp_queries");
}
