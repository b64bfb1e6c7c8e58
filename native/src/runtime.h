// The process's one embedded Node runtime, on a thread of its own.
#pragma once

#include <string>

namespace sync_client {

/**
 * Starts the runtime on first use (later calls wait for or reuse it); never initialises twice.
 * Returns false with `error` set when it cannot run (missing files or packages, failed start).
 */
bool EnsureRuntime(std::string *error);

/**
 * The engine bundle this build of the library loads from sync_client/ beside it: the shipped host's
 * (sync_engine.js) or the test builds' (sync_engine_testing.js). Defined by engine_bundle.cc, which
 * each library compiles with its own SYNC_ENGINE_BUNDLE.
 */
extern const char kEngineBundle[];

/** Directory holding this library's file (for the engine bundle and the SQLite build beside it). */
std::string LibraryDirectory();

/** The better-sqlite3 module the runtime loads (its SQLite is also the one libsync_client reads with). */
std::string SqliteModulePath();

}  // namespace sync_client
