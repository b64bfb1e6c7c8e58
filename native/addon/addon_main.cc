// The Node-API bridge (bridge.cc, event_queue.cc: the same sources libsync_client links) as a regular
// addon for the system Node, plus test helpers that stand in for the C side: event queues registered
// per engine id, and calls into Bridge::call made from worker threads. Test-only; see
// native/js/bridge-addon.test.ts.
//
// Exports: everything InitBridge exports (start, pushEvent, publishCounts, log), and
//   newQueue(engineId, limit)           attaches an EventQueue and a PublishedState for engineId (Bridge::attach)
//   removeQueue(engineId)               Bridge::detach (drainQueue and publishedState still read the detached ones)
//   drainQueue(engineId)                → { events: [{type, documentId, title, content, error, numeric, flag}], dropped }
//   queueFdReadable(engineId)           → whether the queue's eventfd polls readable (0 timeout)
//   notifyCount(engineId)               installs a counting notify on first use; → calls so far
//   publishedState(engineId)            → { documents, pending, connected }: what the C calls would answer
//   callFromThread(op, engineId, args, timeoutMs) → Promise<{code, message, text, bytes}>:
//                                       Bridge::call on a libuv worker thread (Napi::AsyncWorker); args is an
//                                       object of strings, numbers, booleans, nulls, Buffers (key bytes),
//                                       ArrayBuffers (other bytes) and objects of those, made into the
//                                       OpCall the generated functions would make
//   stop()                              Bridge::stop: releases the thread-safe function
#include <napi.h>
#include <poll.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridge.h"
#include "event_queue.h"

namespace {

using sync_client::Bridge;
using sync_client::Event;
using sync_client::EventQueue;
using sync_client::Reply;

struct QueueState {
  std::shared_ptr<EventQueue> queue;
  std::shared_ptr<sync_client::PublishedState> published = std::make_shared<sync_client::PublishedState>();
  std::atomic<uint64_t> notifies{0};
  bool notify_installed = false;
};

// Touched on the JS thread only (notify callbacks only bump the atomic counter).
std::unordered_map<uint64_t, std::unique_ptr<QueueState>> &States() {
  static auto *states = new std::unordered_map<uint64_t, std::unique_ptr<QueueState>>();
  return *states;
}

uint64_t EngineArg(const Napi::CallbackInfo &info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "engine id must be a number");
  int64_t v = info[i].As<Napi::Number>().Int64Value();
  if (v < 0) throw Napi::TypeError::New(info.Env(), "engine id must not be negative");
  return static_cast<uint64_t>(v);
}

QueueState &StateOf(const Napi::CallbackInfo &info) {
  uint64_t engine = EngineArg(info, 0);
  auto it = States().find(engine);
  if (it == States().end()) throw Napi::Error::New(info.Env(), "no queue for engine " + std::to_string(engine));
  return *it->second;
}

Napi::Value OptionalValue(Napi::Env env, const std::optional<std::string> &s) {
  return s ? Napi::Value(Napi::String::New(env, *s)) : env.Null();
}

void CountNotify(void *context) { static_cast<QueueState *>(context)->notifies.fetch_add(1); }

/** A JS scalar as the contract's Scalar; anything else is a TypeError. */
sync_client::Scalar ScalarOf(const Napi::Value &v) {
  if (v.IsNull()) return nullptr;
  if (v.IsBoolean()) return sync_client::Boolean(v.As<Napi::Boolean>().Value());
  if (v.IsNumber()) return sync_client::Scalar(std::in_place_type<double>, v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return sync_client::String(v.As<Napi::String>().Utf8Value());
  if (v.IsBuffer()) {
    auto bytes = v.As<Napi::Buffer<uint8_t>>();
    return sync_client::Secret({bytes.Data(), bytes.Length()});
  }
  if (v.IsArrayBuffer()) {
    auto bytes = v.As<Napi::ArrayBuffer>();
    return sync_client::Bytes({bytes.Data(), bytes.ByteLength()});
  }
  throw Napi::TypeError::New(v.Env(), "an argument must be a string, number, boolean, null, a Buffer, an ArrayBuffer or an object of those");
}

class CallWorker : public Napi::AsyncWorker {
 public:
  CallWorker(Napi::Env env, std::string op, uint64_t engine, Napi::Object args, uint32_t timeout_ms)
      : Napi::AsyncWorker(env, "sync_client_bridge_test_call"),
        deferred_(Napi::Promise::Deferred::New(env)),
        engine_(engine),
        timeout_ms_(timeout_ms) {
    call_.name = Name(std::move(op));
    Napi::Array keys = args.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string key = keys.Get(i).ToString().Utf8Value();
      Napi::Value value = args.Get(key);
      if (!value.IsObject() || value.IsBuffer() || value.IsArrayBuffer()) {
        call_.arguments.push_back({Name(key), ScalarOf(value)});
        continue;
      }
      Napi::Object object = value.As<Napi::Object>();
      Napi::Array fields = object.GetPropertyNames();
      sync_client::Record record;
      for (uint32_t j = 0; j < fields.Length(); j++) {
        std::string field = fields.Get(j).ToString().Utf8Value();
        record.push_back({Name(field), ScalarOf(object.Get(field))});
      }
      call_.arguments.push_back({Name(key), std::move(record)});
    }
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override { reply_ = Bridge::instance().call(std::move(call_), engine_, timeout_ms_); }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    r.Set("code", Napi::Number::New(env, reply_.code));
    r.Set("message", Napi::String::New(env, reply_.message));
    r.Set("text", reply_.has_text ? Napi::Value(Napi::String::New(env, reply_.text)) : env.Null());
    if (reply_.has_bytes) r.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, reply_.bytes.get(), reply_.bytes_length));
    deferred_.Resolve(r);
  }

  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  /** A name the call points to (generated calls point to literals): kept for the worker's life. */
  const char *Name(std::string name) { return names_.emplace_back(std::move(name)).c_str(); }

  Napi::Promise::Deferred deferred_;
  std::deque<std::string> names_;
  sync_client::OpCall call_;
  uint64_t engine_;
  uint32_t timeout_ms_;
  Reply reply_;
};

Napi::Value NewQueue(const Napi::CallbackInfo &info) {
  uint64_t engine = EngineArg(info, 0);
  if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "newQueue(engineId, limit)");
  int64_t limit = info[1].As<Napi::Number>().Int64Value();
  if (limit < 0) throw Napi::TypeError::New(info.Env(), "limit must not be negative");
  auto state = std::make_unique<QueueState>();
  state->queue = std::make_shared<EventQueue>(static_cast<size_t>(limit));
  Bridge::instance().attach(engine, state->queue, state->published);
  auto &slot = States()[engine];
  if (slot && slot->notify_installed) slot->queue->set_notify(nullptr, nullptr);
  slot = std::move(state);
  return info.Env().Undefined();
}

Napi::Value RemoveQueue(const Napi::CallbackInfo &info) {
  // The helper keeps its reference, so drainQueue still shows what (nothing) reached the detached queue.
  Bridge::instance().detach(EngineArg(info, 0));
  return info.Env().Undefined();
}

Napi::Value DrainQueue(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  EventQueue::Batch batch = StateOf(info).queue->drain();
  Napi::Array events = Napi::Array::New(env, batch.events.size());
  uint32_t i = 0;
  for (const Event &e : batch.events) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", Napi::Number::New(env, e.type));
    o.Set("documentId", OptionalValue(env, e.document_id));
    o.Set("title", OptionalValue(env, e.title));
    o.Set("content", OptionalValue(env, e.content));
    o.Set("error", OptionalValue(env, e.error));
    o.Set("numeric", Napi::Number::New(env, static_cast<double>(e.numeric)));
    o.Set("flag", Napi::Boolean::New(env, e.flag));
    events.Set(i++, o);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("events", events);
  out.Set("dropped", Napi::Number::New(env, static_cast<double>(batch.dropped)));
  return out;
}

Napi::Value QueueFdReadable(const Napi::CallbackInfo &info) {
  int fd = StateOf(info).queue->fd();
  if (fd < 0) throw Napi::Error::New(info.Env(), "the queue has no eventfd");
  struct pollfd p = {fd, POLLIN, 0};
  int n = poll(&p, 1, 0);
  if (n < 0) throw Napi::Error::New(info.Env(), "poll failed");
  return Napi::Boolean::New(info.Env(), n == 1 && (p.revents & POLLIN) != 0);
}

Napi::Value NotifyCount(const Napi::CallbackInfo &info) {
  QueueState &state = StateOf(info);
  if (!state.notify_installed) {
    state.notify_installed = true;
    state.queue->set_notify(CountNotify, &state);
  }
  return Napi::Number::New(info.Env(), static_cast<double>(state.notifies.load()));
}

Napi::Value PublishedState(const Napi::CallbackInfo &info) {
  const sync_client::PublishedState &published = *StateOf(info).published;
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("documents", Napi::Number::New(info.Env(), static_cast<double>(published.documents.load())));
  out.Set("pending", Napi::Number::New(info.Env(), static_cast<double>(published.pending.load())));
  out.Set("connected", Napi::Boolean::New(info.Env(), published.connected.load()));
  return out;
}

Napi::Value CallFromThread(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[2].IsObject() || !info[3].IsNumber())
    throw Napi::TypeError::New(env, "callFromThread(op, engineId, args{}, timeoutMs)");
  uint64_t engine = EngineArg(info, 1);
  int64_t timeout = info[3].As<Napi::Number>().Int64Value();
  if (timeout < 0 || timeout > UINT32_MAX) throw Napi::RangeError::New(env, "timeoutMs out of range");
  auto *worker = new CallWorker(env, info[0].As<Napi::String>().Utf8Value(), engine, info[2].As<Napi::Object>(), static_cast<uint32_t>(timeout));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // deletes itself after OnOK/OnError
  return promise;
}

Napi::Value Stop(const Napi::CallbackInfo &info) {
  Bridge::instance().stop();
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sync_client::InitBridge(env, exports);
  exports.Set("newQueue", Napi::Function::New(env, NewQueue, "newQueue"));
  exports.Set("removeQueue", Napi::Function::New(env, RemoveQueue, "removeQueue"));
  exports.Set("drainQueue", Napi::Function::New(env, DrainQueue, "drainQueue"));
  exports.Set("queueFdReadable", Napi::Function::New(env, QueueFdReadable, "queueFdReadable"));
  exports.Set("notifyCount", Napi::Function::New(env, NotifyCount, "notifyCount"));
  exports.Set("publishedState", Napi::Function::New(env, PublishedState, "publishedState"));
  exports.Set("callFromThread", Napi::Function::New(env, CallFromThread, "callFromThread"));
  exports.Set("stop", Napi::Function::New(env, Stop, "stop"));
  return exports;
}

}  // namespace

NODE_API_MODULE(sync_client_bridge, Init)
