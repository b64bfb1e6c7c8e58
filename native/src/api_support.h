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
#include "contract/engine_ops.h"
#include "engine.h"
#include "sync_client.h"

namespace sync_client {

/** Records `message` as the calling thread's last error and returns `code` (a SyncResult value). */
SyncResult Fail(int code, const std::string &message);
/** Clears the thread's last error and returns SYNC_RESULT_SUCCESS. */
SyncResult Ok();
const char *LastErrorMessage();

/** Each named string argument is present and valid UTF-8; otherwise records why and returns false. */
bool CheckStrings(std::initializer_list<std::pair<const char *, const char *>> args);
/** CheckStrings for a document id, which must also be a lowercase canonical UUID. */
bool CheckId(const char *id);
/** CheckStrings for an attachment id, which must also be "sha256-" and 64 lowercase hex digits. */
bool CheckAttachmentId(const char *attachment_id);

/**
 * The checks of a call answered on the calling thread: a reachable engine, and not the runtime's
 * own thread (where no sync_* call is allowed).
 */
SyncResult CheckCaller(SyncEngineHandle *engine);

/** A copy the caller frees with sync_string_free(); NULL when out of memory. */
char *Duplicate(const std::string &s);

/**
 * Every entry point returning SyncResult runs inside this: nothing thrown (an allocation failure
 * while copying arguments, say) ever crosses into the C caller.
 */
template <typename F>
SyncResult Guard(F &&body) noexcept {
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

/** Removes the engine's listeners of this callback and context at once; returns how many (api_events.cc). */
size_t RemoveCallbackListeners(SyncEngineHandle *engine, SyncEventCallback callback, void *context);

/**
 * Runs one engine operation on the JS thread, waiting up to `timeout_ms`; on success hands the reply
 * (whose bytes it may take) to `on_success`.
 */
template <typename OnSuccess>
SyncResult RunWaiting(SyncEngineHandle *engine, uint32_t timeout_ms, OpCall op, OnSuccess &&on_success) {
  if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
  Reply r = Bridge::instance().call(std::move(op), engine->id, timeout_ms);
  if (r.code != SYNC_RESULT_SUCCESS) return Fail(r.code, r.message.empty() ? "the operation failed" : r.message);
  return on_success(r);
}

/** RunWaiting for the engine's call_timeout_ms. */
template <typename OnSuccess>
SyncResult Run(SyncEngineHandle *engine, OpCall op, OnSuccess &&on_success) {
  if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
  return RunWaiting(engine, engine->call_timeout_ms, std::move(op), std::forward<OnSuccess>(on_success));
}

SyncResult Run(SyncEngineHandle *engine, Op<NoResult> op);

/** RunWaiting for an operation answering text: the reply must hold it; `on_text` gets it. */
template <typename OnText>
SyncResult RunWaitingForText(SyncEngineHandle *engine, uint32_t timeout_ms, Op<TextResult> op, OnText &&on_text) {
  return RunWaiting(engine, timeout_ms, std::move(op), [&](const Reply &r) { return r.has_text ? on_text(r.text) : Fail(SYNC_RESULT_UNKNOWN, "the engine answered no text"); });
}

/** RunWaitingForText for the engine's call_timeout_ms. */
template <typename OnText>
SyncResult RunForText(SyncEngineHandle *engine, Op<TextResult> op, OnText &&on_text) {
  if (!engine) return Fail(SYNC_RESULT_NOT_INITIALIZED, "engine is NULL");
  return RunWaitingForText(engine, engine->call_timeout_ms, std::move(op), std::forward<OnText>(on_text));
}

/** RunWaitingForText with a copy of the text to *out. */
SyncResult RunWaitingText(SyncEngineHandle *engine, uint32_t timeout_ms, Op<TextResult> op, char **out);

/** RunWaitingText for the engine's call_timeout_ms. */
SyncResult RunText(SyncEngineHandle *engine, Op<TextResult> op, char **out);

}  // namespace sync_client
