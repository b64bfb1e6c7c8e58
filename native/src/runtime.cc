#include "runtime.h"

#include <dlfcn.h>
// node_version.h (through node.h) defines NAPI_VERSION 9; the bridge is built for Node-API 8.
#undef NAPI_VERSION
#include <node.h>
#undef NAPI_VERSION
#define NAPI_VERSION 8
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <uv.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "bridge.h"
#include "contract/engine_ops.h"
#include "document_reader.h"
#include "node_builtins.h"
#include "wal_checkpoints.h"

namespace sync_client {

namespace {

bool FileExists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string JsString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

/** The bridge's exports (bridge.h), and checkpoint(path): see wal_checkpoints.h; the previous checkpoint's failure or undefined. */
Napi::Object InitBinding(Napi::Env env, Napi::Object exports) {
  InitBridge(env, exports);
  exports.Set("checkpoint", Napi::Function::New(env, [](const Napi::CallbackInfo &info) -> Napi::Value {
                if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(info.Env(), "checkpoint(path) needs a string");
                std::string failed = RequestCheckpoint(info[0].As<Napi::String>().Utf8Value());
                return failed.empty() ? info.Env().Undefined() : Napi::String::New(info.Env(), failed);
              }));
  return exports;
}

napi_value RegisterBridge(napi_env env, napi_value exports) { return Napi::RegisterModule(env, exports, InitBinding); }

class Runtime {
 public:
  bool Start(std::string *error) {
    std::string dir = LibraryDirectory();
    bundle_ = dir + "/sync_client/" + kEngineBundle;
    sqlite_ = SqliteModulePath();
    if (!FileExists(bundle_)) {
      *error = "the engine bundle is missing: " + bundle_;
      return false;
    }
    if (!FileExists(sqlite_)) {
      *error = "the SQLite module is missing: " + sqlite_;
      return false;
    }
    if (!CheckNodeBuiltins(error)) return false;
    std::promise<std::string> started;
    auto ready = started.get_future();
    thread_ = std::thread([this, p = std::move(started)]() mutable { Main(std::move(p)); });
    std::string failure = ready.get();
    if (!failure.empty()) {
      thread_.join();
      *error = failure;
      return false;
    }
    std::atexit([] { Instance()->Shutdown(); });
    return true;
  }

  static Runtime *Instance() {
    static Runtime *runtime = new Runtime();
    return runtime;
  }

 private:
  void Main(std::promise<std::string> started) {
    // A plug-in host may dlopen() us with RTLD_LOCAL, leaving libnode's symbols invisible to the
    // addons Node itself loads (better-sqlite3): a fatal symbol lookup error. Promote libnode to
    // global scope before anything loads.
    Bridge::mark_runtime_thread();
    // Writing to a closed pipe must fail with EPIPE here, never kill the host: block SIGPIPE on
    // this thread (and so on the threads Node starts from it); the host's own threads keep theirs.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&node::TearDownOncePerProcess), &info) && info.dli_fname) {
      dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    }
    std::vector<std::string> args{"libsync_client"};
    using F = node::ProcessInitializationFlags::Flags;
    // The host owns its process: no stdio or signal handling, no NODE_OPTIONS, no rlimit changes.
    // No OpenSSL set-up by Node either: OpenSSL initialises itself on first use, and Node's would
    // read NODE_EXTRA_CA_CERTS and build the whole root store before anything runs (half the
    // start-up's CPU where that variable is set); trust extra CAs with tls_ca_file instead.
    auto init = node::InitializeOncePerProcess(
        args, static_cast<F>(node::ProcessInitializationFlags::kNoInitializeV8 | node::ProcessInitializationFlags::kNoInitializeNodeV8Platform |
                             node::ProcessInitializationFlags::kNoInitOpenSSL |
                             node::ProcessInitializationFlags::kNoStdioInitialization | node::ProcessInitializationFlags::kNoDefaultSignalHandling |
                             node::ProcessInitializationFlags::kDisableNodeOptionsEnv | node::ProcessInitializationFlags::kDisableCLIOptions |
                             node::ProcessInitializationFlags::kNoAdjustResourceLimits | node::ProcessInitializationFlags::kNoUseLargePages |
                             node::ProcessInitializationFlags::kNoPrintHelpOrVersionOutput |
                             node::ProcessInitializationFlags::kNoParseGlobalDebugVariables));
    if (init->early_return() || init->exit_code() != 0) {
      std::string msg = "the Node runtime failed to initialise";
      for (const auto &e : init->errors()) msg += ": " + e;
      started.set_value(msg);
      return;
    }
    auto platform = node::MultiIsolatePlatform::Create(2);
    v8::V8::InitializePlatform(platform.get());
    // A host application's memory, not a server's: V8 would grow its young generation to 32 MB
    // under a burst of calls; 2 MB semi-spaces cost a few more, cheaper, scavenges instead.
    v8::V8::SetFlagsFromString("--max-semi-space-size=2");
    v8::V8::Initialize();
    {
      std::vector<std::string> errors;
      auto setup = node::CommonEnvironmentSetup::Create(
          platform.get(), &errors, init->args(), init->exec_args(),
          static_cast<node::EnvironmentFlags::Flags>(node::EnvironmentFlags::kNoRegisterESMLoader | node::EnvironmentFlags::kNoCreateInspector |
                                                     node::EnvironmentFlags::kNoGlobalSearchPaths));
      if (!setup) {
        std::string msg = "the Node environment could not be created";
        for (const auto &e : errors) msg += ": " + e;
        started.set_value(msg);
        return;
      }
      v8::Isolate *isolate = setup->isolate();
      node::Environment *env = setup->env();
      env_ = env;
      {
        v8::Locker locker(isolate);
        v8::Isolate::Scope isolate_scope(isolate);
        v8::HandleScope handle_scope(isolate);
        v8::Context::Scope context_scope(setup->context());
        node::AddLinkedBinding(env, "sync_bridge", RegisterBridge, 8);
        // process.exit() inside the engine must not end the host: log it and carry on.
        node::SetProcessExitHandler(env, [](node::Environment *, int code) {
          Bridge::instance().log(2, "process.exit(" + std::to_string(code) + ") was called inside the sync engine; ignored");
        });
        std::string source =
            "const { createRequire } = require('module');\n"
            "const bundle = " + JsString(bundle_) + ";\n"
            "const bridge = process._linkedBinding('sync_bridge');\n"
            "bridge.start(createRequire(bundle)(bundle).start(bridge, { sqliteBinding: " + JsString(sqlite_) + " }));\n";
        v8::TryCatch try_catch(isolate);
        if (node::LoadEnvironment(env, source.c_str()).IsEmpty() || !Bridge::instance().started()) {
          std::string msg = "the engine script failed to load";
          if (try_catch.HasCaught()) {
            v8::String::Utf8Value text(isolate, try_catch.Exception());
            if (*text) msg += std::string(": ") + *text;
          }
          started.set_value(msg);
          return;
        }
        started.set_value("");
        node::SpinEventLoop(env).FromMaybe(1);
        node::Stop(env);
      }
      {
        std::lock_guard<std::mutex> lock(done_mutex_);
        env_ = nullptr;
      }
    }
    v8::V8::Dispose();
    v8::V8::DisposePlatform();
    node::TearDownOncePerProcess();
    std::lock_guard<std::mutex> lock(done_mutex_);
    finished_ = true;
    done_cv_.notify_all();
  }

  /** At process exit: close engines, let the loop end, and wait a moment for the runtime to tear down. */
  void Shutdown() {
    // exit() called on the runtime's own thread (from a notify or log callback): nothing can be waited for.
    if (Bridge::on_runtime_thread_now()) return;
    DocumentReader::CloseAll();
    Bridge::instance().call(ops::Shutdown(), 0, 1000);
    Bridge::instance().stop();
    std::unique_lock<std::mutex> lock(done_mutex_);
    if (env_) node::Stop(env_);
    if (done_cv_.wait_for(lock, std::chrono::seconds(2), [&] { return finished_; })) {
      lock.unlock();
      thread_.join();
    } else {
      lock.unlock();
      thread_.detach();
    }
  }

  std::string bundle_;
  std::string sqlite_;
  std::thread thread_;
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  node::Environment *env_ = nullptr;
  bool finished_ = false;
};

}  // namespace

std::string LibraryDirectory() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&LibraryDirectory), &info) == 0 || !info.dli_fname) return ".";
  // dli_fname is the name the library was found under, relative when LD_LIBRARY_PATH or dlopen()
  // named it so; the engine's module loader takes absolute paths only.
  char *absolute = realpath(info.dli_fname, nullptr);
  std::string path = absolute ? absolute : info.dli_fname;
  std::free(absolute);
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string SqliteModulePath() { return LibraryDirectory() + "/sync_client/better_sqlite3.node"; }

bool EnsureRuntime(std::string *error) {
  static std::mutex mutex;
  static int state = 0;  // 0: not started, 1: running, -1: failed for good
  static std::string failure;
  std::lock_guard<std::mutex> lock(mutex);
  if (state == 0) {
    std::string why;
    // A missing file or package can be fixed and retried; a failed start cannot (V8 is one per process).
    if (!CheckNodeBuiltins(&why)) {
      *error = why;
      return false;
    }
    if (Runtime::Instance()->Start(&why)) {
      state = 1;
    } else if (why.rfind("the engine bundle is missing", 0) == 0 || why.rfind("the SQLite module is missing", 0) == 0) {
      *error = why;
      return false;
    } else {
      state = -1;
      failure = why;
    }
  }
  if (state == -1) *error = failure;
  return state == 1;
}

}  // namespace sync_client
