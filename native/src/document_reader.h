// get_document and get_all_documents on the calling thread, from the engine's database file.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "sqlite_api.h"

namespace sync_client {

/** A read's outcome: a CSyncResult value and, when it failed, why. */
struct ReadResult {
  int code;
  std::string message;
};

/**
 * Reads the `views` table — exactly the local view the engine's API returns — through read-only
 * connections of the engine's own SQLite (SqliteApi), never waiting for the engine's thread. Each
 * read is one statement, so one read transaction: a consistent snapshot holding every commit that
 * came before it, every write a C call returned from included. In WAL mode neither side blocks the
 * other. SQLite allows a connection one thread at a time: a reader takes an idle connection (or
 * opens one) and gives it back, so concurrent readers never wait for each other.
 */
class DocumentReader {
 public:
  /** Opens the first connection, so that a file this library cannot read fails the open; nullptr with `error` set then. */
  static std::shared_ptr<DocumentReader> Open(const SqliteApi *api, const std::string &path, std::string *error);
  ~DocumentReader();
  DocumentReader(const DocumentReader &) = delete;
  DocumentReader &operator=(const DocumentReader &) = delete;

  /** The document as sync_engine_get_document's JSON object (deleted ones too), or SYNC_RESULT_NOT_FOUND. */
  ReadResult get(const char *id, std::string *json);
  /** Every live document as a JSON array, oldest first. */
  ReadResult all(std::string *json);
  const std::string &path() const { return path_; }
  /** Closes the idle connections now and the busy ones as their reads end; later reads fail. */
  void close();
  /**
   * Closes every reader of the process: at exit, before the engines close, so that each file's last
   * connection is the engine's, which checkpoints and removes the WAL.
   */
  static void CloseAll();

 private:
  struct Connection;
  DocumentReader(const SqliteApi *api, std::string path);
  std::unique_ptr<Connection> connect(std::string *error);
  template <typename Use>
  ReadResult read(Use &&use);

  const SqliteApi *api_;
  const std::string path_;
  std::mutex mutex_;
  bool closed_ = false;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace sync_client
