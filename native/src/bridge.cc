#include "bridge.h"

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <variant>

#include "sync_client.h"

namespace sync_client {

const char kOnRuntimeThreadMessage[] =
    "sync_* functions cannot be called from the notify or log callback (the engine's own thread); post to your loop instead";

namespace {

/** One request in flight. Shared by the waiting C thread and the JS side, so either may go first. */
struct Pending {
  OpCall op;
  uint64_t engine;
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  Reply reply;

  void finish(Reply r) {
    std::lock_guard<std::mutex> lock(mutex);
    if (done) return;
    reply = std::move(r);
    done = true;
    done_cv.notify_all();
  }
};

Reply ReplyFrom(Napi::Value value) {
  Reply r;
  if (!value.IsObject()) {
    r.code = SYNC_RESULT_UNKNOWN;
    r.message = "the engine returned no result";
    return r;
  }
  Napi::Object o = value.As<Napi::Object>();
  Napi::Value code = o.Get("code");
  r.code = code.IsNumber() ? code.As<Napi::Number>().Int32Value() : SYNC_RESULT_UNKNOWN;
  Napi::Value message = o.Get("message");
  if (message.IsString()) r.message = message.As<Napi::String>().Utf8Value();
  Napi::Value v = o.Get("value");
  if (v.IsString()) {
    r.has_text = true;
    r.text = v.As<Napi::String>().Utf8Value();
  } else if (v.IsBuffer()) {
    auto buffer = v.As<Napi::Buffer<uint8_t>>();
    r.bytes.reset(static_cast<uint8_t *>(std::malloc(buffer.Length() > 0 ? buffer.Length() : 1)));
    if (!r.bytes) {
      r.code = SYNC_RESULT_UNKNOWN;
      r.message = "out of memory for the attachment's " + std::to_string(buffer.Length()) + " bytes";
      return r;
    }
    if (buffer.Length() > 0) std::memcpy(r.bytes.get(), buffer.Data(), buffer.Length());
    r.bytes_length = buffer.Length();
    r.has_bytes = true;
  }
  return r;
}

Reply ErrorReply(int code, std::string message) {
  Reply r;
  r.code = code;
  r.message = std::move(message);
  return r;
}

/** Text of a JS value through the raw Node-API; false when even that fails (the runtime is terminating). */
bool RawText(napi_env env, napi_value value, std::string *out) {
  napi_value text;
  size_t length = 0;
  if (napi_coerce_to_string(env, value, &text) != napi_ok || napi_get_value_string_utf8(env, text, nullptr, 0, &length) != napi_ok) return false;
  out->resize(length);
  return napi_get_value_string_utf8(env, text, out->data(), length + 1, &length) == napi_ok;
}

/**
 * Finishes a request whose JS call failed: a thrown exception becomes UNKNOWN with its message; if
 * nothing can be read any more (the runtime is being terminated), NOT_INITIALIZED.
 */
void FinishFailed(napi_env env, const std::shared_ptr<Pending> &p) {
  bool pending = false;
  napi_value exception;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending && napi_get_and_clear_last_exception(env, &exception) == napi_ok) {
    bool is_error = false;
    napi_value message = exception;
    if (napi_is_error(env, exception, &is_error) == napi_ok && is_error) napi_get_named_property(env, exception, "message", &message);
    std::string text;
    if (RawText(env, message, &text)) return p->finish(ErrorReply(SYNC_RESULT_UNKNOWN, text));
  }
  p->finish(ErrorReply(SYNC_RESULT_NOT_INITIALIZED, "the engine's runtime stopped while handling the call"));
}

/** A scalar as a JS value: null, boolean, number, string or Buffer (of key bytes or other bytes). */
napi_status ToJs(napi_env env, const Scalar &scalar, napi_value *out) {
  if (std::holds_alternative<bool>(scalar)) return napi_get_boolean(env, std::get<bool>(scalar), out);
  if (std::holds_alternative<double>(scalar)) return napi_create_double(env, std::get<double>(scalar), out);
  if (const auto *text = std::get_if<std::string>(&scalar)) return napi_create_string_utf8(env, text->data(), text->size(), out);
  // A Buffer of its own (not Node's shared pool), which the handler zeroes once it has used it.
  if (const auto *secret = std::get_if<std::shared_ptr<const SecretBytes>>(&scalar)) {
    return napi_create_buffer_copy(env, (*secret)->size(), (*secret)->data(), nullptr, out);
  }
  if (const auto *bytes = std::get_if<ByteCopy>(&scalar)) return napi_create_buffer_copy(env, (*bytes)->size(), (*bytes)->data(), nullptr, out);
  return napi_get_null(env, out);
}

/** A record as a JS object of its fields. */
napi_status ToJs(napi_env env, const Record &record, napi_value *out) {
  napi_status status = napi_create_object(env, out);
  for (const Field &field : record) {
    napi_value value;
    if (status == napi_ok) status = ToJs(env, field.value, &value);
    if (status == napi_ok) status = napi_set_named_property(env, *out, field.name, value);
  }
  return status;
}

/** An operation's arguments as the one object its handler receives: each argument a member, a record an object. */
napi_status ArgumentsToJs(napi_env env, const std::vector<Argument> &arguments, napi_value *out) {
  napi_status status = napi_create_object(env, out);
  for (const Argument &argument : arguments) {
    napi_value value;
    if (status == napi_ok) status = std::visit([&](const auto &v) { return ToJs(env, v, &value); }, argument.value);
    if (status == napi_ok) status = napi_set_named_property(env, *out, argument.name, value);
  }
  return status;
}

/**
 * Runs on the JS thread: calls dispatch, and completes the request now or when its promise settles.
 * The call itself goes through the raw Node-API: while the runtime is being terminated (process
 * exit), building a Napi::Error for a failed call is itself fatal.
 */
void Dispatch(Napi::Env env, Napi::Function dispatch, std::shared_ptr<Pending> *boxed) {
  std::shared_ptr<Pending> p = std::move(*boxed);
  delete boxed;
  Bridge::instance().picked_up();
  if (env == nullptr) {  // the function is being torn down
    p->finish(ErrorReply(SYNC_RESULT_NOT_INITIALIZED, "the sync runtime is shutting down"));
    return;
  }
  napi_env raw = env;
  napi_value argv[3], undefined, result;
  if (napi_create_string_utf8(raw, p->op.name, NAPI_AUTO_LENGTH, &argv[0]) != napi_ok ||
      napi_create_double(raw, static_cast<double>(p->engine), &argv[1]) != napi_ok || ArgumentsToJs(raw, p->op.arguments, &argv[2]) != napi_ok ||
      napi_get_undefined(raw, &undefined) != napi_ok) {
    return FinishFailed(raw, p);
  }
  if (napi_call_function(raw, undefined, dispatch, 3, argv, &result) != napi_ok) return FinishFailed(raw, p);
  try {
    Napi::Value value(env, result);
    if (value.IsPromise()) {
      Napi::Object promise = value.As<Napi::Object>();
      auto onResolve = Napi::Function::New(env, [p](const Napi::CallbackInfo &info) { p->finish(ReplyFrom(info[0])); });
      auto onReject = Napi::Function::New(env, [p](const Napi::CallbackInfo &info) {
        Napi::Value e = info[0];
        Napi::Value message = e.IsObject() ? e.As<Napi::Object>().Get("message") : e;
        p->finish(ErrorReply(SYNC_RESULT_UNKNOWN, message.IsUndefined() ? e.ToString().Utf8Value() : message.ToString().Utf8Value()));
      });
      promise.Get("then").As<Napi::Function>().Call(promise, {onResolve, onReject});
    } else {
      p->finish(ReplyFrom(value));
    }
  } catch (const Napi::Error &e) {
    p->finish(ErrorReply(SYNC_RESULT_UNKNOWN, e.Message()));
  } catch (const std::exception &e) {
    p->finish(ErrorReply(SYNC_RESULT_UNKNOWN, e.what()));
  }
}

std::optional<std::string> OptionalString(const Napi::Value &v) {
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  return std::nullopt;
}

}  // namespace

Bridge &Bridge::instance() {
  // Never destroyed: it must outlive every thread that may still call into it at process exit.
  static Bridge *bridge = new Bridge();
  return *bridge;
}

void Bridge::start(Napi::Env env, Napi::Function dispatch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (started_) throw Napi::Error::New(env, "the bridge is already started");
  tsfn_ = Napi::ThreadSafeFunction::New(env, dispatch, "sync_client_bridge", 0, 1);
  started_ = true;
}

void Bridge::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  tsfn_.Release();
}

namespace {
/** True on the runtime's own thread: a call from there (a notify or log callback) would wait for itself. */
thread_local bool on_runtime_thread = false;
}  // namespace

void Bridge::mark_runtime_thread() { on_runtime_thread = true; }

bool Bridge::on_runtime_thread_now() { return on_runtime_thread; }

Reply Bridge::call(OpCall op, uint64_t engine, uint32_t timeout_ms) {
  if (on_runtime_thread) {
    return ErrorReply(SYNC_RESULT_NOT_INITIALIZED, kOnRuntimeThreadMessage);
  }
  auto p = std::make_shared<Pending>();
  p->op = std::move(op);
  p->engine = engine;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_ || stopped_) return ErrorReply(SYNC_RESULT_NOT_INITIALIZED, "the sync runtime is not running");
    auto *boxed = new std::shared_ptr<Pending>(p);
    waiting_.fetch_add(1, std::memory_order_relaxed);
    if (tsfn_.NonBlockingCall(boxed, Dispatch) != napi_ok) {
      waiting_.fetch_sub(1, std::memory_order_relaxed);
      delete boxed;
      return ErrorReply(SYNC_RESULT_NOT_INITIALIZED, "the sync runtime is not accepting calls");
    }
  }
  std::unique_lock<std::mutex> lock(p->mutex);
  if (!p->done_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return p->done; })) {
    return ErrorReply(SYNC_RESULT_TIMEOUT, "the engine did not answer within " + std::to_string(timeout_ms) + " ms; the outcome is unknown");
  }
  // The JS side finished it and never touches it again: its bytes move to the caller uncopied.
  return std::move(p->reply);
}

void Bridge::attach(uint64_t engine, std::shared_ptr<EventQueue> queue, std::shared_ptr<PublishedState> state) {
  std::lock_guard<std::mutex> lock(mutex_);
  channels_[engine] = Channel{std::move(queue), std::move(state)};
}

void Bridge::detach(uint64_t engine) {
  std::lock_guard<std::mutex> lock(mutex_);
  channels_.erase(engine);
}

Bridge::Channel Bridge::channel(uint64_t engine) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = channels_.find(engine);
  return it == channels_.end() ? Channel{} : it->second;
}

void Bridge::push_event(uint64_t engine, Event event) {
  Channel c = channel(engine);
  if (!c.queue) return;
  // The transport is live exactly from its ConnectionSucceeded to its next ConnectionLost; the state
  // changes before the event is queued, so a callback handling the event reads the new value.
  if (event.type == SYNC_EVENT_CONNECTION_SUCCEEDED || event.type == SYNC_EVENT_CONNECTION_LOST) {
    c.state->connected.store(event.type == SYNC_EVENT_CONNECTION_SUCCEEDED);
  }
  c.queue->push(std::move(event));
}

void Bridge::publish_counts(uint64_t engine, uint64_t documents, uint64_t pending) {
  Channel c = channel(engine);
  if (!c.state) return;
  c.state->documents.store(documents);
  c.state->pending.store(pending);
}

void Bridge::set_log_sink(LogSink sink, void *context) {
  std::lock_guard<std::mutex> lock(log_mutex_);
  log_sink_ = sink;
  log_context_ = context;
}

void Bridge::log(int level, const std::string &message) {
  LogSink sink;
  void *context;
  {
    std::lock_guard<std::mutex> lock(log_mutex_);
    sink = log_sink_;
    context = log_context_;
  }
  // Outside the lock: a sink that (wrongly) calls sync_set_log_callback must not deadlock.
  if (sink) sink(level, message.c_str(), context);
}

Napi::Object InitBridge(Napi::Env env, Napi::Object exports) {
  exports.Set("start", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
                if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "start(dispatch) needs a function");
                Bridge::instance().start(info.Env(), info[0].As<Napi::Function>());
              }));
  exports.Set("pushEvent", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
                if (info.Length() < 8 || !info[0].IsNumber() || !info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "pushEvent: bad arguments");
                Event e;
                e.type = info[1].As<Napi::Number>().Int32Value();
                e.document_id = OptionalString(info[2]);
                e.title = OptionalString(info[3]);
                e.content = OptionalString(info[4]);
                e.error = OptionalString(info[5]);
                e.numeric = info[6].IsNumber() ? static_cast<uint64_t>(info[6].As<Napi::Number>().Int64Value()) : 0;
                e.flag = info[7].ToBoolean().Value();
                Bridge::instance().push_event(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()), std::move(e));
              }));
  exports.Set("publishCounts", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
                if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) {
                  throw Napi::TypeError::New(info.Env(), "publishCounts: bad arguments");
                }
                auto count = [&](size_t i) { return static_cast<uint64_t>(info[i].As<Napi::Number>().Int64Value()); };
                Bridge::instance().publish_counts(count(0), count(1), count(2));
              }));
  exports.Set("callsWaiting", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
                return Napi::Boolean::New(info.Env(), Bridge::instance().calls_waiting());
              }));
  exports.Set("log", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
                if (info.Length() < 2) return;
                Bridge::instance().log(info[0].ToNumber().Int32Value(), info[1].ToString().Utf8Value());
              }));
  return exports;
}

}  // namespace sync_client
