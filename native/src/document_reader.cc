#include "document_reader.h"

#include <set>

#include "json_text.h"
#include "sync_client.h"

namespace sync_client {

namespace {

/** The columns of sync_engine_get_document's object, in its order. */
#define SYNC_VIEW_COLUMNS "id, title, content, revision, pending, created_at, updated_at, deleted_at"
const char kOneSql[] = "SELECT " SYNC_VIEW_COLUMNS " FROM views WHERE id = ?1";
// The order the engine's listDocuments() uses.
const char kLiveSql[] = "SELECT " SYNC_VIEW_COLUMNS " FROM views WHERE deleted = 0 ORDER BY created_at, id";
#undef SYNC_VIEW_COLUMNS

/** Readers never wait for a writer in WAL mode; only recovery of a WAL after a crash makes them wait briefly. */
constexpr int kBusyTimeoutMs = 2000;
/** Pages each connection may cache (KiB): every commit of the engine invalidates them anyway. */
constexpr int kCacheKib = 2048;

std::mutex registry_mutex;
std::set<DocumentReader *> &Registry() {
  static auto *readers = new std::set<DocumentReader *>();
  return *readers;
}

}  // namespace

struct DocumentReader::Connection {
  explicit Connection(const SqliteApi *api) : api(api) {}
  ~Connection() {
    api->finalize(one);
    api->finalize(live);
    api->close_v2(db);
  }
  const SqliteApi *api;
  sqlite3 *db = nullptr;
  sqlite3_stmt *one = nullptr;
  sqlite3_stmt *live = nullptr;

  std::string error(const char *what) const { return std::string(what) + ": " + api->errmsg(db); }

  /** The current row of `statement` as a JSON object, as the engine writes it (its content as stored: JSON text). */
  void appendRow(std::string &out, sqlite3_stmt *statement) const {
    auto text = [&](int column) {
      if (api->column_type(statement, column) == SQLITE_NULL) {
        out += "null";
        return;
      }
      const char *value = reinterpret_cast<const char *>(api->column_text(statement, column));
      AppendJsonString(out, value, static_cast<size_t>(api->column_bytes(statement, column)));
    };
    out += "{\"id\":";
    text(0);
    out += ",\"title\":";
    text(1);
    out += ",\"content\":";
    out.append(reinterpret_cast<const char *>(api->column_text(statement, 2)), static_cast<size_t>(api->column_bytes(statement, 2)));
    out += ",\"sync_revision\":";
    out += api->column_type(statement, 3) == SQLITE_NULL ? std::string("null") : std::to_string(api->column_int64(statement, 3));
    out += ",\"pending\":";
    out += std::to_string(api->column_int64(statement, 4));
    out += ",\"created_at\":";
    text(5);
    out += ",\"updated_at\":";
    text(6);
    out += ",\"deleted_at\":";
    text(7);
    out += '}';
  }
};

DocumentReader::DocumentReader(const SqliteApi *api, std::string path) : api_(api), path_(std::move(path)) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  Registry().insert(this);
}

DocumentReader::~DocumentReader() {
  std::lock_guard<std::mutex> lock(registry_mutex);
  Registry().erase(this);
}

std::shared_ptr<DocumentReader> DocumentReader::Open(const SqliteApi *api, const std::string &path, std::string *error) {
  std::shared_ptr<DocumentReader> reader(new DocumentReader(api, path));
  std::unique_ptr<Connection> first = reader->connect(error);
  if (!first) return nullptr;
  reader->idle_.push_back(std::move(first));
  return reader;
}

std::unique_ptr<DocumentReader::Connection> DocumentReader::connect(std::string *error) {
  auto c = std::make_unique<Connection>(api_);
  // Read-only: this library never writes the engine's file. No mutex: one thread at a time uses it.
  if (api_->open_v2(path_.c_str(), &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    *error = c->error(("cannot open " + path_ + " for reading").c_str());
    return nullptr;
  }
  api_->extended_result_codes(c->db, 1);
  api_->busy_timeout(c->db, kBusyTimeoutMs);
  std::string cache = "PRAGMA cache_size = -" + std::to_string(kCacheKib);
  if (api_->exec(c->db, cache.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK ||
      api_->prepare_v3(c->db, kOneSql, -1, SQLITE_PREPARE_PERSISTENT, &c->one, nullptr) != SQLITE_OK ||
      api_->prepare_v3(c->db, kLiveSql, -1, SQLITE_PREPARE_PERSISTENT, &c->live, nullptr) != SQLITE_OK) {
    *error = c->error(("cannot read " + path_).c_str());
    return nullptr;
  }
  return c;
}

template <typename Use>
ReadResult DocumentReader::read(Use &&use) {
  std::unique_ptr<Connection> c;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) return {SYNC_RESULT_NOT_INITIALIZED, "the engine is destroyed"};
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!c) {
    std::string why;
    c = connect(&why);
    if (!c) return {SYNC_RESULT_DATABASE, why};
  }
  ReadResult result = use(*c);
  std::lock_guard<std::mutex> lock(mutex_);
  // After close() the connection goes with `c` instead.
  if (!closed_) idle_.push_back(std::move(c));
  return result;
}

ReadResult DocumentReader::get(const char *id, std::string *json) {
  return read([&](Connection &c) -> ReadResult {
    ReadResult r{SYNC_RESULT_SUCCESS, ""};
    api_->bind_text(c.one, 1, id, -1, SQLITE_TRANSIENT);
    int rc = api_->step(c.one);
    if (rc == SQLITE_ROW) c.appendRow(*json, c.one);
    else if (rc == SQLITE_DONE) r = {SYNC_RESULT_NOT_FOUND, std::string("no document ") + id};
    else r = {SYNC_RESULT_DATABASE, c.error(("reading " + path_).c_str())};
    // Ends the read transaction, so that it holds back no checkpoint.
    api_->reset(c.one);
    return r;
  });
}

ReadResult DocumentReader::all(std::string *json) {
  return read([&](Connection &c) -> ReadResult {
    ReadResult r{SYNC_RESULT_SUCCESS, ""};
    *json = "[";
    int rc;
    while ((rc = api_->step(c.live)) == SQLITE_ROW) {
      if (json->size() > 1) *json += ',';
      c.appendRow(*json, c.live);
    }
    *json += ']';
    if (rc != SQLITE_DONE) r = {SYNC_RESULT_DATABASE, c.error(("reading " + path_).c_str())};
    api_->reset(c.live);
    return r;
  });
}

void DocumentReader::close() {
  std::vector<std::unique_ptr<Connection>> idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    idle.swap(idle_);
  }
}

void DocumentReader::CloseAll() {
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (DocumentReader *reader : Registry()) reader->close();
}

}  // namespace sync_client
