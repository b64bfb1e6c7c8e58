// What every C entry point shares: the thread's last error, the guard that keeps exceptions out of
// C, argument checks, and the call into the engine's JavaScript thread.
#pragma once

#include <exception>
#include <initializer_list>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "bridge.h"
#include "engine.h"
#include "sync_client.h"

namespace sync_client {

/** Records `message` as the calling thread's last error and returns `code` (a CSyncResult value). */
CSyncResult Fail(int code, const std::string &message);
/** Clears the thread's last error and returns SYNC_RESULT_SUCCESS. */
CSyncResult Ok();
const char *LastErrorMessage();

/** Each named string argument is present and valid UTF-8; otherwise records why and returns false. */
bool CheckStrings(std::initializer_list<std::pair<const char *, const char *>> args);
/** CheckStrings for a document id, which must also be a lowercase canonical UUID. */
bool CheckId(const char *id);

/** A copy the caller frees with sync_string_free(); NULL when out of memory. */
char *Duplicate(const std::string &s);

/**
 * Every entry point returning CSyncResult runs inside this: nothing thrown (an allocation failure
 * while copying arguments, say) ever crosses into the C caller.
 */
template <typename F>
CSyncResult Guard(F &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return Fail(SYNC_RESULT_UNKNOWN, "out of memory");
  } catch (const std::exception &e) {
    return Fail(SYNC_RESULT_UNKNOWN, e.what());
  } catch (...) {
    return Fail(SYNC_RESULT_UNKNOWN, "unknown error");
  }
}

/** Runs one engine operation on the JS thread; on success hands the reply to `on_success`. */
template <typename OnSuccess>
CSyncResult Run(CSyncEngine *engine, const char *op, std::vector<std::string> args, OnSuccess &&on_success) {
  if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
  Reply r = Bridge::instance().call(op, engine->id, std::move(args), engine->call_timeout_ms);
  if (r.code != SYNC_RESULT_SUCCESS) return Fail(r.code, r.message.empty() ? "the operation failed" : r.message);
  return on_success(r);
}

CSyncResult Run(CSyncEngine *engine, const char *op, std::vector<std::string> args);

/** Run for an operation answering text: a copy goes to *out. */
CSyncResult RunText(CSyncEngine *engine, const char *op, std::vector<std::string> args, char **out);

}  // namespace sync_client
