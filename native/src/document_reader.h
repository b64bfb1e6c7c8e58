// get_document, get_all_documents and queries on the calling thread, from the engine's database file.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "op_call.h"
#include "sqlite_api.h"

namespace sync_client {

/** A read's outcome: a SyncResult value and, when it failed, why. */
struct ReadResult {
  int code;
  std::string message;
};

/**
 * Reads the view `sdk_documents`, which the engine's schema creates for this library (statements and
 * columns generated from native/js/contract/document-view.ts: contract/document_view.h) — exactly
 * the local view the engine's API returns — through read-only
 * connections of the engine's own SQLite (SqliteApi), never waiting for the engine's thread. Each
 * read is one statement, so one read transaction: a consistent snapshot holding every commit that
 * came before it, every write a C call returned from included. In WAL mode neither side blocks the
 * other. SQLite allows a connection one thread at a time: a reader takes an idle connection (or
 * opens one) and gives it back, so concurrent readers never wait for each other.
 */
class DocumentReader : public std::enable_shared_from_this<DocumentReader> {
 public:
  /**
   * Opens the first connection, so that a file this library cannot read fails the open; nullptr with
   * `error` set then. Every connection checks the file's PRAGMA user_version against the schema
   * version the statements were generated for before it prepares them: another one fails it, with
   * both versions in `error`.
   */
  static std::shared_ptr<DocumentReader> Open(const SqliteApi *api, const std::string &path, KeyBytes key, std::string *error);
  ~DocumentReader();
  DocumentReader(const DocumentReader &) = delete;
  DocumentReader &operator=(const DocumentReader &) = delete;

  /** The document as sync_engine_get_document's JSON object (deleted ones too), or SYNC_RESULT_NOT_FOUND. */
  ReadResult get(const char *id, std::string *json);
  /** Every live document as a JSON array, oldest first. */
  ReadResult all(std::string *json);
  /**
   * Runs a compiled query — the engine's statement for it (SyncEngine.readerStatement): one row, one
   * column, the result's JSON text — into *json. Past `limit_ms` it stops with SYNC_RESULT_TIMEOUT.
   * *stale is set (and SYNC_RESULT_DATABASE returned) when the statement no longer fits the file's
   * schema — an index it reads was dropped: compile it again.
   */
  ReadResult query(const std::string &sql, uint32_t limit_ms, std::string *json, bool *stale);
  /** The file's schema cookie (PRAGMA schema_version): every index created or dropped changes it. */
  ReadResult schemaVersion(int64_t *cookie);
  const std::string &path() const { return path_; }
  /** A second reader of the same file with the same key (the tests' fresh-connection read). */
  std::shared_ptr<DocumentReader> another(std::string *error);
  /**
   * For a rekey, which needs the engine's connection to be the file's only one: closes every
   * connection (waiting for reads under way) and holds new reads until resume().
   */
  void pause();
  /** Reads go on, on connections opened with `key` (the rekey's) or, when `keep` is true, the key they had. */
  void resume(KeyBytes key, bool keep);
  /** Closes the idle connections now and the busy ones as their reads end; later reads fail. */
  void close();
  /**
   * Copies the WAL's committed pages into the database file: a PASSIVE checkpoint, which neither
   * waits for nor blocks the engine's writes or any read, on a read-write connection kept for it
   * (the only one this library writes with: a checkpoint changes no content). The engine asks for
   * it (RequestCheckpoint, wal_checkpoints.h) instead of checkpointing on its own thread, where a large log held every
   * call behind it. Does nothing while paused (a rekey needs the engine's connection alone) or
   * after close(), both of which wait for a checkpoint under way.
   */
  ReadResult checkpoint();
  /** An open reader of the file at `path`, or nullptr. */
  static std::shared_ptr<DocumentReader> Find(const std::string &path);
  /**
   * Closes every reader of the process: at exit, before the engines close, so that each file's last
   * connection is the engine's, which checkpoints and removes the WAL.
   */
  static void CloseAll();

 private:
  struct Connection;
  DocumentReader(const SqliteApi *api, std::string path, KeyBytes key);
  std::unique_ptr<Connection> connect(std::string *error);
  template <typename Use>
  ReadResult read(Use &&use);

  const SqliteApi *api_;
  const std::string path_;
  std::mutex mutex_;
  /**
   * sqlite3_key_v2's argument, "raw:" + the 32 bytes (empty: not encrypted). Connections are opened
   * as reads need them, so the key is kept while the engine is open; zeroed when replaced or the
   * reader goes.
   */
  std::shared_ptr<const SecretBytes> key_;
  bool closed_ = false;
  bool paused_ = false;
  /** Reads holding a connection, and the wait for them (and for resume()). */
  int busy_ = 0;
  std::condition_variable changed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  /** checkpoint()'s connection, opened on first use; held (with the mutex) while it runs. */
  std::mutex checkpoint_mutex_;
  sqlite3 *checkpointer_ = nullptr;
  void closeCheckpointer();
};

}  // namespace sync_client
