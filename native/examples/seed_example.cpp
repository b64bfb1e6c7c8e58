// seed_example.cpp — the C++ example: two engines of one user (two database files) sync a document.
//
//   A creates a document  →  B receives it and answers with an update  →  A receives B's update  →  exit 0.
//
// SyncClient::sync_engine (= SyncClient::sync_engine, from sync_client_events.h) is RAII: the engine is destroyed
// with the object. Callbacks are lambdas; they run inside process_events(), on this thread.
// Errors throw SyncClient::sync_exception carrying the C result code.
//
//   seed_example_cpp [SERVER_URL [API_KEY [API_SECRET]]]
//   (or SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET; SYNC_EMAIL, SYNC_EXAMPLE_TIMEOUT_S optional)
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "sync_client_events.h"

namespace {

std::string config(int argc, char **argv, int index, const char *env_name) {
  if (argc > index && argv[index][0] != '\0') return argv[index];
  const char *value = std::getenv(env_name);
  return value ? value : "";
}

void print_event(const char *side, const SyncEventData &event) {
  std::cout << "[" << side << "] " << SyncClient::get_event_name(event.event_type);
  if (event.document_id) std::cout << " " << event.document_id;
  if (event.content) std::cout << " " << event.content;
  if (event.error) std::cout << " (" << event.error << ")";
  if (event.document_id) std::cout << (event.boolean_data ? " [local]" : " [remote]");
  std::cout << "\n";
}

// A directory for the two database files, removed when the example ends.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sync-seed-cpp-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

}  // namespace

int main(int argc, char **argv) {
  const std::string server_url = config(argc, argv, 1, "SYNC_SERVER_URL");
  const std::string api_key = config(argc, argv, 2, "SYNC_API_KEY");
  const std::string api_secret = config(argc, argv, 3, "SYNC_API_SECRET");
  const std::string email = std::getenv("SYNC_EMAIL") ? std::getenv("SYNC_EMAIL") : "seed-cpp-example@example.com";
  const double timeout_s = std::getenv("SYNC_EXAMPLE_TIMEOUT_S") ? std::atof(std::getenv("SYNC_EXAMPLE_TIMEOUT_S")) : 30.0;
  if (server_url.empty() || api_key.empty() || api_secret.empty()) {
    std::cerr << "usage: " << argv[0] << " SERVER_URL API_KEY API_SECRET (or set SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET)\n";
    return 2;
  }
  std::cout << "libsync_client " << SyncClient::sync_engine::get_version() << ", server " << server_url << std::endl;

  TempDir dir;  // declared before the engines: destroyed after them
  const auto main_thread = std::this_thread::get_id();
  bool wrong_thread = false;
  try {
    SyncClient::sync_engine a("sqlite:" + (dir.path / "a.db").string() + "?mode=rwc", server_url, email, api_key, api_secret);
    SyncClient::sync_engine b("sqlite:" + (dir.path / "b.db").string() + "?mode=rwc", server_url, email, api_key, api_secret);

    std::string doc_id;
    bool b_got_document = false, b_replied = false, a_got_reply = false;

    // A registration lasts as long as its engine (or until its handle's remove()).
    a.register_callback([&](const SyncEventData &event) {
      if (std::this_thread::get_id() != main_thread) wrong_thread = true;
      print_event("A", event);
      if (event.event_type == SYNC_EVENT_DOCUMENT_UPDATED && !event.boolean_data && event.document_id && doc_id == event.document_id &&
          event.content && std::string(event.content).find("\"reply\"") != std::string::npos)
        a_got_reply = true;
    });
    b.register_callback([&](const SyncEventData &event) {
      if (std::this_thread::get_id() != main_thread) wrong_thread = true;
      print_event("B", event);
      if (event.event_type == SYNC_EVENT_DOCUMENT_CREATED && !event.boolean_data && event.document_id && doc_id == event.document_id) {
        b_got_document = true;
      }
    });

    doc_id = a.create_document(R"({"title":"Hello from A","body":"written on engine A"})");
    std::cout << "A created " << doc_id << std::endl;

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (!a_got_reply && std::chrono::steady_clock::now() < deadline) {
      a.process_events();  // callbacks run here, on this thread
      b.process_events();
      if (b_got_document && !b_replied) {
        b.update_document(doc_id, R"({"title":"Hello from A","body":"written on engine A","reply":"B was here"})");
        b_replied = true;
        std::cout << "B updated " << doc_id << std::endl;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }

    if (!a_got_reply) {
      std::cerr << "timed out after " << timeout_s << " s: " << (b_got_document ? "B's update did not reach A" : "A's document did not reach B")
                << "\n";
      return 1;
    }
    if (wrong_thread) {
      std::cerr << "a callback ran on another thread\n";
      return 1;
    }
    std::cout << "A's copy now: " << a.get_document(doc_id) << "\n";
  } catch (const SyncClient::sync_exception &e) {
    std::cerr << "sync error " << e.code() << ": " << e.what() << "\n";
    return 1;
  }
  std::cout << "OK: the document went A -> B -> A" << std::endl;
  return 0;
}
