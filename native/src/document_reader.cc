#include "document_reader.h"

#include <cstring>
#include <chrono>
#include <condition_variable>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "contract/document_view.h"
#include "json_text.h"
#include "sync_client.h"

namespace sync_client {

namespace {

/** Readers never wait for a writer in WAL mode; only recovery of a WAL after a crash makes them wait briefly. */
constexpr int kBusyTimeoutMs = 2000;
/** Pages each connection may cache (KiB): every commit of the engine invalidates them anyway. */
constexpr int kCacheKib = 2048;
/** Prepared query statements each connection keeps; past that it starts over. */
constexpr size_t kCachedQueries = 64;

std::mutex registry_mutex;
std::set<DocumentReader *> &Registry() {
  static auto *readers = new std::set<DocumentReader *>();
  return *readers;
}

using Clock = std::chrono::steady_clock;

/**
 * Interrupts a connection whose query outlives its deadline (sqlite3_interrupt, from a thread of
 * its own): the engine's SQLite is built without the progress callback (better-sqlite3 omits it),
 * and a query on the caller's thread must not hold it past the limit. One thread for the process,
 * started with the first query, asleep until the nearest deadline.
 */
class Watchdog {
 public:
  static Watchdog &Instance() {
    static Watchdog *watchdog = new Watchdog();  // never destroyed: its thread may outlive static destructors
    return *watchdog;
  }

  /** Interrupts `db` at `deadline` unless disarmed before. */
  uint64_t arm(const SqliteApi *api, sqlite3 *db, Clock::time_point deadline) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_) {
      std::thread([this] { run(); }).detach();
      started_ = true;
    }
    uint64_t token = next_token_++;
    armed_.emplace(token, Armed{api, db, deadline});
    woken_.notify_one();
    return token;
  }

  /**
   * Called once the statement is reset: an interrupt that came after the step, with no statement
   * running, did nothing (sqlite.org/c3ref/interrupt).
   */
  void disarm(uint64_t token) {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_.erase(token);
  }

 private:
  struct Armed {
    const SqliteApi *api;
    sqlite3 *db;
    Clock::time_point deadline;
  };

  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (armed_.empty()) {
        woken_.wait(lock);
        continue;
      }
      auto nearest = armed_.begin();
      for (auto it = armed_.begin(); it != armed_.end(); ++it) {
        if (it->second.deadline < nearest->second.deadline) nearest = it;
      }
      if (Clock::now() < nearest->second.deadline) {
        woken_.wait_until(lock, nearest->second.deadline);
        continue;
      }
      nearest->second.api->interrupt(nearest->second.db);
      armed_.erase(nearest);
    }
  }

  std::mutex mutex_;
  std::condition_variable woken_;
  bool started_ = false;
  uint64_t next_token_ = 1;
  std::map<uint64_t, Armed> armed_;
};

}  // namespace

struct DocumentReader::Connection {
  explicit Connection(const SqliteApi *api) : api(api) {}
  ~Connection() {
    forgetQueries();
    api->finalize(one);
    api->finalize(live);
    api->close_v2(db);
  }
  const SqliteApi *api;
  sqlite3 *db = nullptr;
  sqlite3_stmt *one = nullptr;
  sqlite3_stmt *live = nullptr;
  /** Query statements by their SQL, prepared once per connection. */
  std::unordered_map<std::string, sqlite3_stmt *> queries;

  void forgetQueries() {
    for (auto &entry : queries) api->finalize(entry.second);
    queries.clear();
  }

  /** The prepared statement of `sql`: nullptr when SQLite refuses it (see error()). */
  sqlite3_stmt *prepared(const std::string &sql) {
    auto it = queries.find(sql);
    if (it != queries.end()) return it->second;
    if (queries.size() >= kCachedQueries) forgetQueries();
    sqlite3_stmt *statement = nullptr;
    if (api->prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
      api->finalize(statement);
      return nullptr;
    }
    queries.emplace(sql, statement);
    return statement;
  }

  std::string error(const char *what) const { return std::string(what) + ": " + api->errmsg(db); }

  /** The current row of `statement` as a JSON object: one member per column (document_view::kMembers), as the engine writes it. */
  void appendRow(std::string &out, sqlite3_stmt *statement) const {
    int column = 0;
    for (const document_view::Member &member : document_view::kMembers) {
      // The names are plain identifiers: nothing to escape.
      out += column == 0 ? "{\"" : ",\"";
      out += member.name;
      out += "\":";
      // The type first: reading a column as text or integer converts it, and its type is undefined afterwards.
      if (api->column_type(statement, column) == SQLITE_NULL) {
        out += "null";
      } else if (member.kind == document_view::ColumnKind::kInteger) {
        out += std::to_string(api->column_int64(statement, column));
      } else {
        const char *text = reinterpret_cast<const char *>(api->column_text(statement, column));
        size_t bytes = static_cast<size_t>(api->column_bytes(statement, column));
        if (member.kind == document_view::ColumnKind::kText) AppendJsonString(out, text, bytes);
        else out.append(text, bytes);  // kJson: the engine stores JSON text
      }
      column++;
    }
    out += '}';
  }

  /** The file's PRAGMA user_version: the schema the engine brought it to. */
  bool schemaVersion(int64_t *version) const {
    sqlite3_stmt *pragma = nullptr;
    bool read = api->prepare_v3(db, "PRAGMA user_version", -1, 0, &pragma, nullptr) == SQLITE_OK && api->step(pragma) == SQLITE_ROW;
    if (read) *version = api->column_int64(pragma, 0);
    api->finalize(pragma);
    return read;
  }
};

namespace {

/** "raw:" + the key: SQLite3 Multiple Ciphers then uses the bytes as they are (no KDF), as the engine does. */
std::shared_ptr<const SecretBytes> CipherKey(KeyBytes key) {
  if (!key.data) return nullptr;
  uint8_t raw[4 + 64];
  if (key.size > sizeof raw - 4) return nullptr;
  std::memcpy(raw, "raw:", 4);
  std::memcpy(raw + 4, key.data, key.size);
  auto out = std::make_shared<const SecretBytes>(raw, 4 + key.size);
  SecretBytes::Wipe(raw, sizeof raw);
  return out;
}

/** Sets the engine's cipher (storage/encryption.ts) and `key` on a new connection, before anything reads; no key: a plain file. */
bool Keyed(const SqliteApi *api, sqlite3 *db, const SecretBytes *key) {
  return !key || (api->exec(db, "PRAGMA cipher = 'chacha20'; PRAGMA temp_store = MEMORY", nullptr, nullptr, nullptr) == SQLITE_OK &&
                  api->key_v2(db, "main", key->data(), static_cast<int>(key->size())) == SQLITE_OK);
}

}  // namespace

DocumentReader::DocumentReader(const SqliteApi *api, std::string path, KeyBytes key) : api_(api), path_(std::move(path)), key_(CipherKey(key)) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  Registry().insert(this);
}

DocumentReader::~DocumentReader() {
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    Registry().erase(this);
  }
  closeCheckpointer();
}

std::shared_ptr<DocumentReader> DocumentReader::Open(const SqliteApi *api, const std::string &path, KeyBytes key, std::string *error) {
  std::shared_ptr<DocumentReader> reader(new DocumentReader(api, path, key));
  std::unique_ptr<Connection> first = reader->connect(error);
  if (!first) return nullptr;
  reader->idle_.push_back(std::move(first));
  return reader;
}

std::shared_ptr<DocumentReader> DocumentReader::another(std::string *error) {
  std::shared_ptr<DocumentReader> reader(new DocumentReader(api_, path_, {nullptr, 0}));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    reader->key_ = key_;
  }
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
  std::shared_ptr<const SecretBytes> key;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    key = key_;
  }
  if (!Keyed(api_, c->db, key.get())) {
    *error = c->error(("cannot key " + path_).c_str());
    return nullptr;
  }
  // Before the first statement on the view: a file of another schema version would be misread (or fail obscurely).
  int64_t version = 0;
  if (!c->schemaVersion(&version)) {
    *error = c->error(("cannot read the schema version of " + path_).c_str());
    return nullptr;
  }
  if (version != document_view::kSchemaVersion) {
    *error = path_ + " has schema version " + std::to_string(version) + ", but this libsync_client reads schema version " +
             std::to_string(document_view::kSchemaVersion) + " (the library and its engine bundle come from different builds)";
    return nullptr;
  }
  std::string cache = "PRAGMA cache_size = -" + std::to_string(kCacheKib);
  if (api_->exec(c->db, cache.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK ||
      api_->prepare_v3(c->db, document_view::kReadOneSql, -1, SQLITE_PREPARE_PERSISTENT, &c->one, nullptr) != SQLITE_OK ||
      api_->prepare_v3(c->db, document_view::kReadLiveSql, -1, SQLITE_PREPARE_PERSISTENT, &c->live, nullptr) != SQLITE_OK) {
    *error = c->error(("cannot read " + path_).c_str());
    return nullptr;
  }
  return c;
}

template <typename Use>
ReadResult DocumentReader::read(Use &&use) {
  std::unique_ptr<Connection> c;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    // A rekey under way: its result decides which key opens the file.
    changed_.wait(lock, [&] { return !paused_ || closed_; });
    if (closed_) return {SYNC_RESULT_NOT_INITIALIZED, "the engine is destroyed"};
    busy_++;
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  ReadResult result{SYNC_RESULT_DATABASE, ""};
  if (!c) c = connect(&result.message);
  if (c) result = use(*c);
  std::lock_guard<std::mutex> lock(mutex_);
  // After close() (or pause()) the connection goes with `c` instead.
  if (c && !closed_ && !paused_) idle_.push_back(std::move(c));
  c.reset();
  busy_--;
  changed_.notify_all();
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

void DocumentReader::pause() {
  {
    std::vector<std::unique_ptr<Connection>> idle;
    std::unique_lock<std::mutex> lock(mutex_);
    paused_ = true;
    idle.swap(idle_);
    changed_.wait(lock, [&] { return busy_ == 0; });
  }
  // Not under mutex_: checkpoint() takes that inside checkpoint_mutex_. Once paused_ is set no new one starts.
  closeCheckpointer();
}

void DocumentReader::resume(KeyBytes key, bool keep) {
  std::shared_ptr<const SecretBytes> replaced;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!keep) {
    replaced = std::move(key_);  // zeroed as it goes, once no connection being opened holds it
    key_ = CipherKey(key);
  }
  paused_ = false;
  changed_.notify_all();
}

ReadResult DocumentReader::query(const std::string &sql, uint32_t limit_ms, std::string *json, bool *stale) {
  *stale = false;
  return read([&](Connection &c) -> ReadResult {
    sqlite3_stmt *statement = c.prepared(sql);
    if (!statement) {
      // The statement names what the engine's schema held when it compiled it: an index since dropped.
      *stale = true;
      return {SYNC_RESULT_DATABASE, c.error("preparing the query")};
    }
    uint64_t watch = Watchdog::Instance().arm(api_, c.db, Clock::now() + std::chrono::milliseconds(limit_ms));
    ReadResult r{SYNC_RESULT_SUCCESS, ""};
    int rc = api_->step(statement);
    if (rc == SQLITE_ROW && api_->column_type(statement, 0) == SQLITE_TEXT) {
      json->assign(reinterpret_cast<const char *>(api_->column_text(statement, 0)), static_cast<size_t>(api_->column_bytes(statement, 0)));
    } else if ((rc & 0xff) == SQLITE_INTERRUPT) {
      r = {SYNC_RESULT_TIMEOUT, "the query ran longer than " + std::to_string(limit_ms) + " ms and was stopped"};
    } else {
      r = {SYNC_RESULT_DATABASE, c.error(("querying " + path_).c_str())};
      // SQLite prepares a statement again after a schema change; an error then means a table it reads is gone.
      *stale = (rc & 0xff) == SQLITE_ERROR;
    }
    api_->reset(statement);
    Watchdog::Instance().disarm(watch);
    if (*stale) c.forgetQueries();
    return r;
  });
}

ReadResult DocumentReader::schemaVersion(int64_t *cookie) {
  return read([&](Connection &c) -> ReadResult {
    sqlite3_stmt *statement = c.prepared("PRAGMA schema_version");
    if (!statement || api_->step(statement) != SQLITE_ROW) {
      ReadResult r{SYNC_RESULT_DATABASE, c.error(("reading the schema version of " + path_).c_str())};
      if (statement) api_->reset(statement);
      return r;
    }
    *cookie = api_->column_int64(statement, 0);
    api_->reset(statement);
    return {SYNC_RESULT_SUCCESS, ""};
  });
}

void DocumentReader::close() {
  std::vector<std::unique_ptr<Connection>> idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    idle.swap(idle_);
    key_.reset();
    changed_.notify_all();
  }
  closeCheckpointer();
}

void DocumentReader::closeCheckpointer() {
  std::lock_guard<std::mutex> hold(checkpoint_mutex_);
  if (checkpointer_) api_->close_v2(checkpointer_);
  checkpointer_ = nullptr;
}

ReadResult DocumentReader::checkpoint() {
  std::lock_guard<std::mutex> hold(checkpoint_mutex_);
  std::shared_ptr<const SecretBytes> key;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_ || paused_) return {SYNC_RESULT_SUCCESS, ""};
    key = key_;
  }
  if (!checkpointer_) {
    sqlite3 *db = nullptr;
    // A read proves the key before the first checkpoint: with a wrong one it would copy pages it cannot read.
    bool opened = api_->open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) == SQLITE_OK &&
                  Keyed(api_, db, key.get()) && api_->exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr, nullptr) == SQLITE_OK;
    if (!opened) {
      std::string why = "cannot open " + path_ + " to checkpoint it: " + (db ? api_->errmsg(db) : "out of memory");
      api_->close_v2(db);
      return {SYNC_RESULT_DATABASE, why};
    }
    api_->extended_result_codes(db, 1);
    checkpointer_ = db;
  }
  int rc = api_->wal_checkpoint_v2(checkpointer_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  // BUSY: another checkpoint (the engine closing) holds the lock; the next request copies what is left.
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) return {SYNC_RESULT_DATABASE, "checkpointing " + path_ + ": " + api_->errmsg(checkpointer_)};
  return {SYNC_RESULT_SUCCESS, ""};
}

std::shared_ptr<DocumentReader> DocumentReader::Find(const std::string &path) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (DocumentReader *reader : Registry()) {
    if (reader->path_ != path) continue;
    // Empty when the reader is being destroyed (its destructor waits for registry_mutex).
    auto found = reader->weak_from_this().lock();
    std::lock_guard<std::mutex> state(reader->mutex_);
    if (found && !reader->closed_) return found;
  }
  return nullptr;
}

void DocumentReader::CloseAll() {
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (DocumentReader *reader : Registry()) reader->close();
}

}  // namespace sync_client
