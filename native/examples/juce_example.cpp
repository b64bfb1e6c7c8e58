// juce_example.cpp — JUCE 7 (juce_core + juce_events only, no GUI, no display) driving two engines
// of one user, as a plug-in or a JUCE application would.
//
//   A creates a document  →  B receives it and answers with an update  →  A receives B's update  →  exit 0.
//
// The pattern: a juce::Timer, which always fires on the message thread, calls process_events(), so
// every callback runs on the message thread and may touch components, ValueTrees, etc. directly.
// On Linux the engine's event fd can also be handed to JUCE's own event loop
// (juce::LinuxEventLoop::registerFdCallback) to wake the message thread as soon as an event waits;
// the Timer stays as the portable path (macOS, Windows).
//
// A console program has no JUCEApplication: it creates the MessageManager with
// ScopedJuceInitialiser_GUI (the name is historical: it is juce_events only and needs no display)
// and runs MessageManager::runDispatchLoop() until stopDispatchLoop().
//
//   juce_example [SERVER_URL [API_KEY [API_SECRET]]]
//   (or SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET; SYNC_EMAIL, SYNC_EXAMPLE_TIMEOUT_S optional)
#include <juce_core/juce_core.h>
#include <juce_events/juce_events.h>

#include <cstdio>
#include <memory>
#include <string>

#include "sync_client_events.h"

namespace {

juce::String config(const juce::StringArray &args, int index, const char *env_name) {
  if (args.size() > index && args[index].isNotEmpty()) return args[index];
  return juce::SystemStats::getEnvironmentVariable(env_name, {});
}

void print_event(const char *side, const SyncEventData &event) {
  std::printf("[%s] %s", side, SyncClient::get_event_name(event.event_type));
  if (event.document_id) std::printf(" %s", event.document_id);
  if (event.content) std::printf(" %s", event.content);
  if (event.error) std::printf(" (%s)", event.error);
  if (event.document_id) std::printf(event.boolean_data ? " [local]" : " [remote]");
  std::printf("\n");
  std::fflush(stdout);
}

// Owns the two engines. Lives on the message thread: created, pumped and destroyed there.
class SyncExample final : private juce::Timer {
 public:
  SyncExample(const juce::File &dir, const std::string &server_url, const std::string &email, const std::string &api_key,
              const std::string &api_secret, double timeout_ms)
      : a_("sqlite:" + dir.getChildFile("a.db").getFullPathName().toStdString() + "?mode=rwc", server_url, email, api_key, api_secret),
        b_(dir.getChildFile("b.db").getFullPathName().toStdString(), server_url, email, api_key, api_secret),
        deadline_(juce::Time::getMillisecondCounterHiRes() + timeout_ms) {
    // Registered for the engines' lifetime: callbacks run only inside process_events(), which
    // nothing calls once the destructor has stopped the timer and the fd callbacks.
    a_.register_callback([this](const SyncEventData &event) { onEventA(event); });
    b_.register_callback([this](const SyncEventData &event) { onEventB(event); });

#if JUCE_LINUX || JUCE_BSD
    // Wake the message thread as soon as events wait (the callback runs on the message thread).
    fd_a_ = a_.event_fd();
    fd_b_ = b_.event_fd();
    juce::LinuxEventLoop::registerFdCallback(fd_a_, [this](int) { pump(a_); });
    juce::LinuxEventLoop::registerFdCallback(fd_b_, [this](int) { pump(b_); });
#endif
    startTimer(50);  // the portable path: 20 Hz, cheap when nothing waits
  }

  ~SyncExample() override {
    // Stop everything that could call into the engines before they are destroyed (members go after).
    stopTimer();
#if JUCE_LINUX || JUCE_BSD
    juce::LinuxEventLoop::unregisterFdCallback(fd_a_);
    juce::LinuxEventLoop::unregisterFdCallback(fd_b_);
#endif
  }

  void start() {
    doc_id_ = a_.create_document(R"({"title":"Hello from A","body":"written on engine A"})");
    std::printf("A created %s\n", doc_id_.c_str());
  }

  int result() const { return a_got_reply_ && !wrong_thread_ && !failed_ ? 0 : 1; }
  std::string documentOnA() { return a_.get_document(doc_id_); }

 private:
  void timerCallback() override {
    ++timer_ticks_;
    pump(a_);
    pump(b_);
    if (!done_ && juce::Time::getMillisecondCounterHiRes() > deadline_) {
      std::fprintf(stderr, "timed out: %s\n", b_got_document_ ? "B's update did not reach A" : "A's document did not reach B");
      finish();
    }
  }

  // Exceptions must not escape into JUCE's message loop.
  // Always drain (also after finish()): the fd stays readable, and its callback repeats, until then.
  void pump(SyncClient::sync_engine &engine) {
    try {
      engine.process_events();  // the callbacks run here, on the message thread
    } catch (const SyncClient::sync_exception &e) {
      std::fprintf(stderr, "sync error %d: %s\n", static_cast<int>(e.code()), e.what());
      failed_ = true;
      finish();
    }
  }

  void onEventA(const SyncEventData &event) {
    checkThread();
    print_event("A", event);
    if (event.event_type == SYNC_EVENT_DOCUMENT_UPDATED && !event.boolean_data && event.document_id && doc_id_ == event.document_id &&
        event.content && std::string(event.content).find("\"reply\"") != std::string::npos) {
      a_got_reply_ = true;
      finish();
    }
  }

  void onEventB(const SyncEventData &event) {
    checkThread();
    print_event("B", event);
    if (event.event_type == SYNC_EVENT_DOCUMENT_CREATED && !event.boolean_data && event.document_id && doc_id_ == event.document_id &&
        !b_got_document_) {
      b_got_document_ = true;
      // Inside a callback the engine may be called (anything but destroying it); this throws on error,
      // which pump() above catches.
      b_.update_document(doc_id_, R"({"title":"Hello from A","body":"written on engine A","reply":"B was here"})");
      std::printf("B updated %s\n", doc_id_.c_str());
    }
  }

  void checkThread() {
    if (!juce::MessageManager::existsAndIsCurrentThread() && !wrong_thread_) {
      wrong_thread_ = true;
      std::fprintf(stderr, "a callback ran on another thread than the message thread\n");
    }
  }

  void finish() {
    if (done_) return;
    done_ = true;
    std::printf("timer ticks: %d\n", timer_ticks_);
    juce::MessageManager::getInstance()->stopDispatchLoop();
  }

  SyncClient::sync_engine a_, b_;
  int fd_a_ = -1, fd_b_ = -1;
  std::string doc_id_;
  double deadline_;
  int timer_ticks_ = 0;
  bool b_got_document_ = false, a_got_reply_ = false, wrong_thread_ = false, failed_ = false, done_ = false;
};

}  // namespace

int main(int argc, char *argv[]) {
  juce::StringArray args(argv, argc);
  const juce::String server_url = config(args, 1, "SYNC_SERVER_URL");
  const juce::String api_key = config(args, 2, "SYNC_API_KEY");
  const juce::String api_secret = config(args, 3, "SYNC_API_SECRET");
  const juce::String email = juce::SystemStats::getEnvironmentVariable("SYNC_EMAIL", "juce-example@example.com");
  const double timeout_s = juce::SystemStats::getEnvironmentVariable("SYNC_EXAMPLE_TIMEOUT_S", "30").getDoubleValue();
  if (server_url.isEmpty() || api_key.isEmpty() || api_secret.isEmpty()) {
    std::fprintf(stderr, "usage: %s SERVER_URL API_KEY API_SECRET (or set SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET)\n", argv[0]);
    return 2;
  }
  std::printf("libsync_client %s, %s, server %s\n", SyncClient::sync_engine::get_version().c_str(), juce::SystemStats::getJUCEVersion().toRawUTF8(),
              server_url.toRawUTF8());

  // Makes this thread the message thread.
  juce::ScopedJuceInitialiser_GUI juce_initialiser;

  const juce::File dir = juce::File::getSpecialLocation(juce::File::tempDirectory).getNonexistentChildFile("sync-juce-example", {});
  if (!dir.createDirectory()) return 1;
  int result = 1;
  try {
    SyncExample example(dir, server_url.toStdString(), email.toStdString(), api_key.toStdString(), api_secret.toStdString(),
                        timeout_s * 1000.0);
    example.start();
    juce::MessageManager::getInstance()->runDispatchLoop();
    result = example.result();
    if (result == 0) std::printf("A's copy now: %s\n", example.documentOnA().c_str());
  } catch (const SyncClient::sync_exception &e) {
    std::fprintf(stderr, "sync error %d: %s\n", static_cast<int>(e.code()), e.what());
    result = 1;
  }
  // The engines are gone (SyncExample's destructor ran on the message thread): remove their files.
  dir.deleteRecursively();
  std::printf("%s\n", result == 0 ? "OK: the document went A -> B -> A" : "FAILED");
  return result;
}
