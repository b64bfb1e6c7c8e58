// The engine's own SQLite — the one inside the runtime's better_sqlite3.node — for libsync_client's reads.
#pragma once

#include <sqlite3.h>

#include <string>

namespace sync_client {

#define SYNC_SQLITE_FUNCTIONS(X)                                                                                    \
  X(libversion) X(libversion_number) X(threadsafe) X(open_v2) X(close_v2) X(busy_timeout) X(extended_result_codes) \
  X(exec) X(prepare_v3) X(bind_text) X(step) X(reset) X(finalize) X(column_type) X(column_text) X(column_bytes)     \
  X(column_int64) X(errmsg) X(interrupt) X(key_v2) X(wal_checkpoint_v2)

/**
 * SQLite's functions as the module the runtime loaded defines them. libsync_client has no SQLite
 * of its own: a second copy in the process would not see the engine's locks (each copy tracks the
 * POSIX locks of its own connections), and closing any of its descriptors would drop the
 * process's locks on that file — the engine's included (sqlite.org, "How To Corrupt An SQLite
 * Database File", §2.2). Through this one SQLite the engine's connection and ours are two
 * connections of one library, as SQLite expects.
 */
struct SqliteApi {
#define SYNC_SQLITE_MEMBER(name) decltype(&::sqlite3_##name) name;
  SYNC_SQLITE_FUNCTIONS(SYNC_SQLITE_MEMBER)
#undef SYNC_SQLITE_MEMBER

  /**
   * Resolved from the runtime's better_sqlite3.node (loaded once an engine has opened); nullptr with
   * `error` set when that module is not loaded, lacks an export, or is another SQLite version than
   * the header this library was built with.
   */
  static const SqliteApi *Get(std::string *error);
};

/**
 * For the tests: where the reads' sqlite3_libversion lives against the runtime's module, and how
 * many copies of it the process holds, as JSON.
 */
std::string DescribeSqliteOrigin();

}  // namespace sync_client
