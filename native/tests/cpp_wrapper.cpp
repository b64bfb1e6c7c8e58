// The C++ wrapper (sync_client.hpp) against the real runtime and the fixture's server: RAII and
// move semantics, the constructor's error codes, every method's round trip, errors as
// sync_exception with the C code, callbacks in their three forms, registrations that outlive their
// handle, scoped removal, throwing callbacks, and events from a second engine on this thread.
#include <string.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "cpp_common.hpp"

using SyncClient::callback_handle;
using SyncClient::scoped_callback;
using SyncClient::sync_engine;
using SyncClient::sync_exception;
using namespace cpptest;

static_assert(!std::is_copy_constructible_v<sync_engine>, "sync_engine must not be copyable");
static_assert(!std::is_copy_assignable_v<sync_engine>, "sync_engine must not be copy-assignable");
static_assert(std::is_nothrow_move_constructible_v<sync_engine>, "sync_engine must be nothrow-movable");
static_assert(std::is_nothrow_move_assignable_v<sync_engine>, "sync_engine must be nothrow-move-assignable");
static_assert(!std::is_copy_constructible_v<scoped_callback>, "scoped_callback must not be copyable");
static_assert(std::is_nothrow_move_constructible_v<scoped_callback>, "scoped_callback must be nothrow-movable");
static_assert(std::is_copy_constructible_v<callback_handle>, "callback_handle names a registration, like a Qt connection: copyable");
static_assert(std::is_base_of_v<std::runtime_error, sync_exception>, "sync_exception is a std::runtime_error");

static TestEnv env;

static sync_engine open_engine(const std::string &path, const std::string &email, bool offline = false) {
  if (!offline) return sync_engine(path, env.server_url, email, env.api_key, env.api_secret);
  SyncEngineConfig c = sync_engine::default_config();
  c.database_url = path.c_str();
  c.server_url = env.server_url;
  c.email = email.c_str();
  c.api_key = env.api_key;
  c.api_secret = env.api_secret;
  c.start_offline = true;
  return sync_engine(c);
}

// ---- lifecycle: construction failure, RAII, moves, close ------------------------------------------

static void test_lifecycle() {
  std::string email = unique_email("cpp-life");
  std::string p1 = test_db_path("life1"), p2 = test_db_path("life2"), p3 = test_db_path("life3");

  sync_engine a = open_engine(p1, email, true);
  CHECK(a.handle() != nullptr);

  // The constructor throws sync_engine_open()'s own code: a held file, a bad URL, malformed credentials.
  CHECK_THROWS_CODE(sync_engine dup = open_engine(p1, email, true), SYNC_RESULT_LOCKED);
  CHECK_THROWS_CODE(sync_engine bad(test_db_path("life-url"), "http://127.0.0.1:1/ws", email, env.api_key, env.api_secret), SYNC_RESULT_INVALID_URL);
  CHECK_THROWS_CODE(sync_engine bad("sqlite:?mode=rwc", env.server_url, email, env.api_key, env.api_secret), SYNC_RESULT_INVALID_URL);
  CHECK_THROWS_CODE(sync_engine bad(test_db_path("life-key"), env.server_url, email, "rpa_your_api_key_here", env.api_secret),
                    SYNC_RESULT_INVALID_CREDENTIALS);
  CHECK_THROWS_CODE(sync_engine bad(test_db_path("life-key"), env.server_url, email, env.api_key, "secret"), SYNC_RESULT_INVALID_CREDENTIALS);
  {
    SyncEngineConfig c = sync_engine::default_config();
    CHECK_THROWS_CODE(sync_engine bad(c), SYNC_RESULT_INVALID_INPUT);  // the five strings are NULL
  }
  CHECK_NOTHROW(a.count_documents());  // the failed constructor did not disturb the first engine

  // Move construction: the moved-from object throws NOT_INITIALIZED on every call; the target works.
  std::string id;
  CHECK_NOTHROW(id = a.create_document(R"({"title":"moved","n":1})"));
  sync_engine b(std::move(a));
  CHECK_THROWS_CODE(a.count_documents(), SYNC_RESULT_NOT_INITIALIZED);
  CHECK_THROWS_CODE(a.create_document("{}"), SYNC_RESULT_NOT_INITIALIZED);
  CHECK_THROWS_CODE(a.get_document(id), SYNC_RESULT_NOT_INITIALIZED);
  CHECK_THROWS_CODE(a.process_events(), SYNC_RESULT_NOT_INITIALIZED);
  CHECK_THROWS_CODE(a.handle(), SYNC_RESULT_NOT_INITIALIZED);
  CHECK_THROWS_CODE(a.set_online(true), SYNC_RESULT_NOT_INITIALIZED);
  CHECK_THROWS_CODE((void)a.register_callback([](const SyncEventData &) {}), SYNC_RESULT_NOT_INITIALIZED);
  a.close();  // no-op on a moved-from engine
  CHECK(b.count_documents() == 1);
  CHECK(contains(b.get_document(id), "\"moved\""));

  // Move assignment: the target's own engine is destroyed (its file is free again), it takes the source's.
  sync_engine c = open_engine(p2, email, true);
  c = std::move(b);
  CHECK_THROWS_CODE(b.count_documents(), SYNC_RESULT_NOT_INITIALIZED);
  CHECK(c.count_documents() == 1);
  {
    std::string msg;
    int code = code_of([&] { sync_engine reopened = open_engine(p2, email, true); }, &msg);
    CHECK(code == SYNC_RESULT_SUCCESS);
    if (code) fprintf(stderr, "reopening the move-assigned-over engine's file failed: %s\n", msg.c_str());
  }
  c = std::move(c);  // self-move keeps the engine (the wrapper checks this != &other)
  CHECK_NOTHROW(c.count_documents());

  // Scope end destroys the engine: the file can be opened again at once.
  { sync_engine d = open_engine(p3, email, true); }
  CHECK(code_of([&] { sync_engine d2 = open_engine(p3, email, true); }) == SYNC_RESULT_SUCCESS);

  // close(): calls throw NOT_INITIALIZED, a second close is harmless, the data is kept on disk.
  c.close();
  c.close();
  CHECK_THROWS_CODE(c.count_documents(), SYNC_RESULT_NOT_INITIALIZED);
  sync_engine again = open_engine(p1, email, true);
  CHECK(again.count_documents() == 1);
  CHECK(contains(again.get_document(id), "\"moved\""));
}

// ---- every method's round trip, and errors as sync_exception ----------------------------------------

static void test_round_trips() {
  std::string email = unique_email("cpp-rt");
  sync_engine e = open_engine(test_db_path("rt"), email);

  CHECK(e.get_conflicts() == "[]");
  CHECK(e.get_all_documents() == "[]");
  CHECK(e.count_documents() == 0);

  // create_document → std::string id
  std::string id = e.create_document(R"({"title":"First","n":1,"keep":true})");
  CHECK(id.size() == 36);
  std::string doc = e.get_document(id);
  CHECK(contains(doc, "\"id\":\"" + id + "\""));
  CHECK(contains(doc, "\"title\":\"First\""));
  CHECK(contains(doc, "\"n\":1"));
  CHECK(contains(doc, "\"keep\":true"));
  CHECK(contains(doc, "\"deleted_at\":null"));

  // create_document_with_id: a chosen id; the same id + content again succeeds (safe retry); other content conflicts
  std::string id2 = uuid4();
  CHECK_NOTHROW(e.create_document_with_id(id2, R"({"title":"Chosen","v":[1,2]})"));
  CHECK_NOTHROW(e.create_document_with_id(id2, R"({"title":"Chosen","v":[1,2]})"));
  CHECK_THROWS_CODE(e.create_document_with_id(id2, R"({"title":"Other"})"), SYNC_RESULT_CONFLICT);
  CHECK(contains(e.get_document(id2), "\"v\":[1,2]"));
  CHECK(e.count_documents() == 2);

  // update_document: full replacement
  e.update_document(id, R"({"title":"Second","n":2})");
  doc = e.get_document(id);
  CHECK(contains(doc, "\"title\":\"Second\""));
  CHECK(contains(doc, "\"n\":2"));
  CHECK(!contains(doc, "keep"));

  // patch_document: RFC 6902
  e.patch_document(id, R"([{"op":"replace","path":"/n","value":3},{"op":"add","path":"/p","value":"x"}])");
  doc = e.get_document(id);
  CHECK(contains(doc, "\"n\":3"));
  CHECK(contains(doc, "\"p\":\"x\""));

  // merge_document: RFC 7386 (null removes)
  e.merge_document(id, R"({"p":null,"m":{"a":1}})");
  doc = e.get_document(id);
  CHECK(!contains(doc, "\"p\":"));
  CHECK(contains(doc, "\"m\":{\"a\":1}"));

  // undo reverts the merge, redo re-applies it
  e.undo(id);
  doc = e.get_document(id);
  CHECK(contains(doc, "\"p\":\"x\""));
  CHECK(!contains(doc, "\"m\":"));
  e.redo(id);
  doc = e.get_document(id);
  CHECK(!contains(doc, "\"p\":"));
  CHECK(contains(doc, "\"m\":{\"a\":1}"));
  CHECK_THROWS_CODE(e.redo(id), SYNC_RESULT_NOT_FOUND);  // nothing left to redo

  // get_history: create, update, patch, merge, undo, redo — oldest first
  std::string history = e.get_history(id);
  CHECK(!history.empty() && history.front() == '[' && history.back() == ']');
  CHECK(occurrences(history, "\"document_id\":\"" + id + "\"") >= 6);
  CHECK(history.find("\"kind\":\"create\"") < history.find("\"kind\":\"update\""));

  // get_all_documents, delete_document, counts
  std::string all = e.get_all_documents();
  CHECK(contains(all, id) && contains(all, id2));
  e.delete_document(id2);
  CHECK(e.count_documents() == 1);
  CHECK(!contains(e.get_all_documents(), id2));
  CHECK(contains(e.get_document(id2), "\"deleted_at\":\""));  // deleted documents are still found

  // flush: everything reaches the server; then nothing is pending and the engine is connected
  CHECK_NOTHROW(e.flush(10000));
  CHECK(e.count_pending() == 0);
  CHECK(e.is_connected());

  // set_online(false): disconnects; local calls keep working; flush cannot finish
  e.set_online(false);
  CHECK(wait_until([&] { return !e.is_connected(); }, 5000));
  std::string offline_id = e.create_document(R"({"title":"Offline"})");
  CHECK(e.count_pending() >= 1);
  {
    std::string msg;
    int code = code_of([&] { e.flush(300); }, &msg);
    // sync_engine_flush documents TIMEOUT; the SyncResult list mentions CONNECTION for a flush while offline.
    CHECK(code == SYNC_RESULT_TIMEOUT || code == SYNC_RESULT_CONNECTION);
    CHECK(!msg.empty());
  }
  e.set_online(true);
  CHECK_NOTHROW(e.flush(10000));
  CHECK(e.count_pending() == 0);
  CHECK(e.is_connected());

  // get_conflicts: a second engine of the user creates, offline, an id the server already has
  std::string taken = uuid4();
  e.create_document_with_id(taken, R"({"title":"server wins"})");
  CHECK_NOTHROW(e.flush(10000));
  {
    sync_engine late = open_engine(test_db_path("rt-late"), email, true);
    late.create_document_with_id(taken, R"({"title":"too late"})");
    late.set_online(true);
    // Catch-up brings the server's version; the local create loses and is recorded as a conflict.
    CHECK(pump_until(late, [&] { return contains(late.get_conflicts(), taken); }, 15000));
    std::string conflicts = late.get_conflicts();
    CHECK(contains(conflicts, "\"document_id\":\"" + taken + "\""));
    CHECK_NOTHROW(late.flush(10000));
    CHECK(contains(late.get_document(taken), "server wins"));
    CHECK(late.count_documents() == e.count_documents());
  }
  CHECK(e.get_conflicts() == "[]");

  // errors: the C code in the exception, with the message; the engine keeps working
  std::string unknown = uuid4();
  CHECK_THROWS_CODE(e.create_document("{not json"), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.create_document(""), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.create_document("\"a string\""), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.create_document(std::string("{\"t\":\"\xff\xfe\"}")), SYNC_RESULT_INVALID_INPUT);  // invalid UTF-8
  CHECK_THROWS_CODE(e.create_document_with_id(uuid4(), "[1,"), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.update_document(id, "{"), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.patch_document(id, "[{\"op\":"), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.patch_document(id, R"([{"op":"frobnicate","path":"/n"}])"), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.merge_document(id, "{]"), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.get_document(unknown), SYNC_RESULT_NOT_FOUND);
  CHECK_THROWS_CODE(e.update_document(unknown, "{}"), SYNC_RESULT_NOT_FOUND);
  CHECK_THROWS_CODE(e.patch_document(unknown, R"([{"op":"add","path":"/a","value":1}])"), SYNC_RESULT_NOT_FOUND);
  CHECK_THROWS_CODE(e.merge_document(unknown, R"({"a":1})"), SYNC_RESULT_NOT_FOUND);
  CHECK_THROWS_CODE(e.delete_document(unknown), SYNC_RESULT_NOT_FOUND);
  CHECK_THROWS_CODE(e.undo(unknown), SYNC_RESULT_NOT_FOUND);
  CHECK_THROWS_CODE(e.redo(unknown), SYNC_RESULT_NOT_FOUND);
  // The exception's message is the thread's last error message at the time of the throw.
  try {
    e.get_document(unknown);
    CHECK(!"get_document(unknown) did not throw");
  } catch (const sync_exception &ex) {
    CHECK(ex.code() == SYNC_RESULT_NOT_FOUND);
    CHECK(strcmp(ex.what(), sync_last_error_message()) == 0);
  }
  CHECK(e.count_documents() == 3);  // id, offline_id, taken (id2 is deleted)
  CHECK(contains(e.get_document(offline_id), "Offline"));

  // create_documents: the ids in order, all or nothing
  std::vector<std::string> bulk = e.create_documents(R"([{"title":"bulk","i":0},{"i":1}])");
  CHECK(bulk.size() == 2);
  for (size_t i = 0; i < bulk.size(); i++) {
    CHECK(bulk[i].size() == 36);
    CHECK(contains(e.get_document(bulk[i]), "\"i\":" + std::to_string(i)));
  }
  CHECK(e.create_documents("[]").empty());
  CHECK_THROWS_CODE(e.create_documents(R"([{"title":"not written"},"not an object"])"), SYNC_RESULT_INVALID_INPUT);
  CHECK_THROWS_CODE(e.create_documents(R"({"not":"an array"})"), SYNC_RESULT_INVALID_INPUT);
  CHECK(e.count_documents() == 5);
}

// ---- callbacks: three forms, filter, handles and scoped removal, throwing callbacks -----------------------

struct CCounter {
  int created = 0;
  int total = 0;
  std::string last_id;
};

static void c_callback(const SyncEventData *e, void *context) {
  auto *c = static_cast<CCounter *>(context);
  c->total++;
  if (e->event_type == SYNC_EVENT_DOCUMENT_CREATED) {
    c->created++;
    c->last_id = e->document_id ? e->document_id : "";
  }
}

static void test_callbacks() {
  std::string email = unique_email("cpp-cb");
  // Offline: only this engine's own document events arrive, so counts are exact.
  sync_engine e = open_engine(test_db_path("cb"), email, true);

  // A callback that throws, registered first: nothing propagates, the others still run. The
  // handles are dropped: the registrations stay.
  int throws = 0;
  e.register_callback([&](const SyncEventData &) {
    throws++;
    throw std::runtime_error("callback failure");
  });
  e.register_callback([&](const SyncEventData *, void *) {
    throws++;
    throw 42;  // not even a std::exception
  });

  // void(const SyncEventData&)
  struct Seen {
    SyncEventType type;
    std::string id, title, content;
    bool local;
    bool content_null;
  };
  std::vector<Seen> seen;
  std::thread::id main_thread = std::this_thread::get_id();
  bool all_on_main = true;
  callback_handle ref_handle = e.register_callback([&](const SyncEventData &ev) {
    if (std::this_thread::get_id() != main_thread) all_on_main = false;
    seen.push_back({ev.event_type, ev.document_id ? ev.document_id : "", ev.title ? ev.title : "", ev.content ? ev.content : "",
                    ev.boolean_data, ev.content == nullptr});
  });
  CHECK(static_cast<bool>(ref_handle));

  // the seed's void(const SyncEventData*, void*): gets nullptr as context
  int seed_calls = 0;
  bool seed_context_null = true;
  callback_handle seed_handle = e.register_callback([&](const SyncEventData *ev, void *context) {
    if (ev) seed_calls++;
    if (context) seed_context_null = false;
  });

  // a C function pointer + context, held for a scope
  CCounter c_counter;
  scoped_callback c_scoped(e.register_callback(c_callback, &c_counter));

  // filter: only DocumentDeleted
  int deleted_only = 0, wrong_type = 0;
  e.register_callback([&](const SyncEventData &ev) { ev.event_type == SYNC_EVENT_DOCUMENT_DELETED ? deleted_only++ : wrong_type++; },
                      SYNC_EVENT_DOCUMENT_DELETED);

  // a callback may call the engine (any sync_* function except destroying it)
  int reentrant_ok = 0;
  e.register_callback(
      [&](const SyncEventData &ev) {
        if (ev.document_id && contains(e.get_document(ev.document_id), ev.document_id)) reentrant_ok++;
      },
      SYNC_EVENT_DOCUMENT_CREATED);

  // invalid filter: refused with INVALID_INPUT
  CHECK_THROWS_CODE(e.register_callback([](const SyncEventData &) {}, 42), SYNC_RESULT_INVALID_INPUT);

  std::string id = e.create_document(R"({"title":"Event","n":1})");
  CHECK(pump_until(e, [&] { return !seen.empty(); }, 5000));
  CHECK(seen.size() == 1 && seen[0].type == SYNC_EVENT_DOCUMENT_CREATED && seen[0].id == id && seen[0].title == "Event" &&
        contains(seen[0].content, "\"n\":1") && seen[0].local);
  CHECK(seed_calls == 1 && seed_context_null);
  CHECK(c_counter.created == 1 && c_counter.total == 1 && c_counter.last_id == id);
  CHECK(throws == 2);
  CHECK(reentrant_ok == 1);
  CHECK(deleted_only == 0 && wrong_type == 0);
  CHECK(all_on_main);

  // process_events returns the number of events delivered, normally, even though two callbacks threw
  e.update_document(id, R"({"title":"Event","n":2})");
  e.delete_document(id);
  uint32_t n = 0;
  CHECK_NOTHROW(n = e.process_events());
  CHECK(n == 2);
  CHECK(seen.size() == 3 && seen[1].type == SYNC_EVENT_DOCUMENT_UPDATED && seen[2].type == SYNC_EVENT_DOCUMENT_DELETED &&
        seen[2].content_null && seen[2].id == id);
  CHECK(deleted_only == 1 && wrong_type == 0);
  CHECK(throws == 6);
  CHECK(c_counter.total == 3);
  CHECK(e.process_events() == 0);  // nothing left

  // remove(): no more calls; every copy of the handle reads false; removing again is harmless
  callback_handle seed_copy = seed_handle;
  seed_copy.remove();
  CHECK(!seed_handle && !seed_copy);
  seed_handle.remove();
  // a scoped_callback leaving its scope removes the registration
  int scoped_calls = 0;
  {
    scoped_callback scoped(e.register_callback([&](const SyncEventData &) { scoped_calls++; }));
    CHECK(static_cast<bool>(scoped));
    e.create_document(R"({"title":"scoped"})");
    e.process_events();
    CHECK(scoped_calls == 1);
  }
  // move: the moved-from holder is empty; the moved-to one keeps the registration
  scoped_callback moved = std::move(c_scoped);
  CHECK(!c_scoped && moved);
  c_scoped.reset();  // resetting the moved-from holder must not remove the moved-to one's registration
  // release(): the holder lets go; the registration stays until its handle removes it
  int released_calls = 0;
  callback_handle released = scoped_callback(e.register_callback([&](const SyncEventData &) { released_calls++; })).release();

  int seed_before = seed_calls, c_before = c_counter.total;
  size_t seen_before = seen.size();
  e.create_document(R"({"title":"after remove"})");
  CHECK(e.process_events() == 1);
  CHECK(seed_calls == seed_before);        // removed
  CHECK(scoped_calls == 1);                // its scope ended
  CHECK(c_counter.total == c_before + 1);  // moved, still registered
  CHECK(seen.size() == seen_before + 1);   // untouched
  CHECK(released_calls == 1);              // released, still registered
  released.remove();

  // move-assigning an empty holder removes what the target held
  moved = scoped_callback();
  CHECK(!moved);
  c_before = c_counter.total;
  e.create_document(R"({"title":"after move-assign"})");
  CHECK(e.process_events() == 1);
  CHECK(c_counter.total == c_before);
  CHECK(released_calls == 1);

  // The same C function + context registered twice through the wrapper: two registrations, two handles.
  CCounter twice;
  {
    callback_handle h1 = e.register_callback(c_callback, &twice);
    scoped_callback h2(e.register_callback(c_callback, &twice));
    e.create_document(R"({"title":"twice"})");
    e.process_events();
    CHECK(twice.total == 2);
    h1.remove();  // only h1's registration goes
    e.create_document(R"({"title":"once"})");
    e.process_events();
    CHECK(twice.total == 3);
  }

  // Registrations end with their engine: a handle or holder outliving it is harmless.
  callback_handle outliving;
  scoped_callback outliving2;
  int outliving_calls = 0;
  {
    sync_engine tmp = open_engine(test_db_path("cb-tmp"), email, true);
    outliving = tmp.register_callback([&](const SyncEventData &) { outliving_calls++; });
    outliving2 = scoped_callback(tmp.register_callback(c_callback, &twice));
    tmp.create_document(R"({"title":"tmp"})");
    tmp.process_events();
    CHECK(outliving_calls == 1);
    CHECK(static_cast<bool>(outliving));
  }
  CHECK(!outliving && !outliving2);
  outliving.remove();
  // outliving2 is destroyed at the end of this function, after its engine.

  // A handle outliving an engine that was moved and then closed.
  {
    sync_engine tmp = open_engine(test_db_path("cb-tmp2"), email, true);
    callback_handle h = tmp.register_callback([](const SyncEventData &) {});
    sync_engine other(std::move(tmp));
    CHECK(static_cast<bool>(h));  // the registration moved with the engine
    other.close();
    CHECK(!h);
    h.remove();
  }
}

// ---- events from a second engine arrive via process_events() on this thread ---------------------------

static void test_second_engine_events() {
  std::string email = unique_email("cpp-two");
  sync_engine a = open_engine(test_db_path("two-a"), email);
  sync_engine b = open_engine(test_db_path("two-b"), email);

  std::thread::id main_thread = std::this_thread::get_id();
  struct Remote {
    SyncEventType type;
    std::string id, title, content;
    bool on_main;
  };
  std::vector<Remote> remote;
  scoped_callback watch(b.register_callback([&](const SyncEventData &ev) {
    if (ev.event_type > SYNC_EVENT_DOCUMENT_DELETED || ev.boolean_data) return;  // document events from elsewhere
    remote.push_back({ev.event_type, ev.document_id ? ev.document_id : "", ev.title ? ev.title : "", ev.content ? ev.content : "",
                      std::this_thread::get_id() == main_thread});
  }));
  int connected = 0;
  b.register_callback([&](const SyncEventData &) { connected++; }, SYNC_EVENT_CONNECTION_SUCCEEDED);

  // events are produced on the engine's thread and wait until this thread asks for them
  std::string id = a.create_document(R"({"title":"From A","items":["x","y"]})");
  CHECK(pump_until(b, [&] { return !remote.empty(); }, 15000));
  CHECK(remote.size() == 1);
  if (!remote.empty()) {
    CHECK(remote[0].type == SYNC_EVENT_DOCUMENT_CREATED);
    CHECK(remote[0].id == id);
    CHECK(remote[0].title == "From A");
    CHECK(contains(remote[0].content, "\"items\":[\"x\",\"y\"]"));
    CHECK(remote[0].on_main);
  }
  CHECK(connected >= 1);

  a.merge_document(id, R"({"title":"Changed"})");
  CHECK(pump_until(b, [&] { return remote.size() >= 2; }, 15000));
  if (remote.size() >= 2) {
    CHECK(remote[1].type == SYNC_EVENT_DOCUMENT_UPDATED && remote[1].id == id && remote[1].title == "Changed" && remote[1].on_main);
    CHECK(contains(remote[1].content, "\"items\":[\"x\",\"y\"]"));
  }
  a.delete_document(id);
  CHECK(pump_until(b, [&] { return remote.size() >= 3; }, 15000));
  if (remote.size() >= 3) CHECK(remote[2].type == SYNC_EVENT_DOCUMENT_DELETED && remote[2].id == id && remote[2].on_main);
  CHECK(b.count_documents() == 0);

  // after the holder's reset, b's callback sees nothing more
  watch.reset();
  size_t before = remote.size();
  std::string id2 = a.create_document(R"({"title":"unseen"})");
  CHECK(pump_until(b, [&] { return b.count_documents() == 1; }, 15000));
  b.process_events();
  CHECK(remote.size() == before);
}

// ---- encryption: a keyed engine, rekey and decrypt through the wrapper -----------------------------

static void test_rekey() {
  std::string email = unique_email("cpp-crypt");
  std::vector<uint8_t> key(32, 0x11), next(32, 0x22);
  SyncEngineConfig c;
  test_config(&c, &env, "crypt", email.c_str());
  c.start_offline = true;
  c.encryption_key = key.data();
  c.encryption_key_length = key.size();
  std::string id;
  {
    sync_engine e(c);
    id = e.create_document(R"({"title":"sealed"})");
    CHECK_THROWS_CODE(e.rekey(std::vector<uint8_t>(31, 0x33)), SYNC_RESULT_INVALID_INPUT);
    CHECK_NOTHROW(e.rekey(next));
    CHECK(e.get_document(id).find("sealed") != std::string::npos);
  }
  CHECK_THROWS_CODE(sync_engine stale(c), SYNC_RESULT_WRONG_KEY);  // the old key no longer opens it
  c.encryption_key = next.data();
  sync_engine e(c);
  CHECK(e.get_document(id).find("sealed") != std::string::npos);
  CHECK_NOTHROW(e.rekey(std::vector<uint8_t>()));  // empty: decrypt
  CHECK(e.get_document(id).find("sealed") != std::string::npos);
}

int main() {
  test_env_load(&env);
  double t0 = test_now_ms();

  CHECK(sync_engine::get_version() == SYNC_CLIENT_VERSION);
  CHECK(sync_engine::get_version() == sync_get_version());

  SECTION("lifecycle", { test_lifecycle(); });
  SECTION("round_trips", { test_round_trips(); });
  SECTION("callbacks", { test_callbacks(); });
  SECTION("second_engine", { test_second_engine_events(); });
  SECTION("rekey", { test_rekey(); });

  fprintf(stderr, "total %.0f ms\n", test_now_ms() - t0);
  remove_db_dir();
  return test_finish("cpp_wrapper");
}
