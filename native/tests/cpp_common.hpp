// Shared by the C++ wrapper tests: the C harness (fixture env, CHECK/REQUIRE, test_finish) plus
// helpers to assert sync_exception codes, pump events event-driven (poll on the event fd), make
// unique users and UUIDs.
#ifndef SYNC_CPP_TEST_COMMON_HPP
#define SYNC_CPP_TEST_COMMON_HPP

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include "sync_client.hpp"

extern "C" {
#include "harness.h"  // C; compiled as harness.c in the same executable
}

namespace cpptest {

/** Runs `f`; returns the code of the sync_exception it threw (SUCCESS if none, -1 for another exception). */
template <typename F>
inline int code_of(F &&f, std::string *message = nullptr) {
  try {
    f();
  } catch (const SyncClient::sync_exception &e) {
    if (message) *message = e.what();
    return e.code();
  } catch (const std::exception &e) {
    if (message) *message = std::string("not a sync_exception: ") + e.what();
    return -1;
  } catch (...) {
    if (message) *message = "not a std::exception";
    return -1;
  }
  return SYNC_RESULT_SUCCESS;
}

}  // namespace cpptest

/** Asserts that `stmt` throws sync_exception with `code` and a non-empty message. */
#define CHECK_THROWS_CODE(stmt, code)                                                                                    \
  do {                                                                                                                   \
    std::string msg_;                                                                                                    \
    int got_ = cpptest::code_of([&] { stmt; }, &msg_);                                                                   \
    if (got_ != (code)) {                                                                                                \
      fprintf(stderr, "%s:%d: %s: expected code %d, got %d (%s)\n", __FILE__, __LINE__, #stmt, (int)(code), got_,        \
              msg_.c_str());                                                                                             \
      test_failures++;                                                                                                   \
    } else if (msg_.empty()) {                                                                                           \
      fprintf(stderr, "%s:%d: %s: code %d but an empty message\n", __FILE__, __LINE__, #stmt, got_);                     \
      test_failures++;                                                                                                   \
    }                                                                                                                    \
  } while (0)

/** Asserts that `stmt` throws nothing. */
#define CHECK_NOTHROW(stmt)                                                                                              \
  do {                                                                                                                   \
    std::string msg_;                                                                                                    \
    int got_ = cpptest::code_of([&] { stmt; }, &msg_);                                                                   \
    if (got_ != SYNC_RESULT_SUCCESS) {                                                                                   \
      fprintf(stderr, "%s:%d: %s threw code %d (%s)\n", __FILE__, __LINE__, #stmt, got_, msg_.c_str());                  \
      test_failures++;                                                                                                   \
    }                                                                                                                    \
  } while (0)

/** Runs one section; an unexpected exception counts as a failure and the next section still runs. */
#define SECTION(name, body)                                                                                              \
  do {                                                                                                                   \
    double t0_ = test_now_ms();                                                                                          \
    std::string msg_;                                                                                                    \
    int got_ = cpptest::code_of([&] body, &msg_);                                                                        \
    if (got_ != SYNC_RESULT_SUCCESS) {                                                                                   \
      fprintf(stderr, "section %s: unexpected exception, code %d: %s\n", name, got_, msg_.c_str());                     \
      test_failures++;                                                                                                   \
    }                                                                                                                    \
    fprintf(stderr, "section %s: %.0f ms\n", name, test_now_ms() - t0_);                                                \
  } while (0)

namespace cpptest {

inline bool contains(const std::string &haystack, const std::string &needle) { return haystack.find(needle) != std::string::npos; }

inline size_t occurrences(const std::string &haystack, const std::string &needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size())) n++;
  return n;
}

/** A random lowercase version-4 UUID. */
inline std::string uuid4() {
  static std::mt19937_64 rng(std::random_device{}() ^ (uint64_t)getpid() << 32 ^ (uint64_t)test_now_ms());
  static const char *hex = "0123456789abcdef";
  std::string s = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char &c : s) {
    if (c == 'x') c = hex[rng() & 15];
    else if (c == 'y') c = hex[8 + (rng() & 3)];
  }
  return s;
}

/** A user of its own for this run, so tests sharing the fixture's server never see each other's documents. */
inline std::string unique_email(const char *tag) { return std::string(tag) + "-" + uuid4().substr(0, 8) + "@example.com"; }

/**
 * Calls process_events() until `done()` or the timeout, sleeping in poll() on the engine's event fd
 * between rounds (so it wakes when events arrive; the short cap also re-checks `done`).
 */
inline bool pump_until(SyncClient::sync_engine &engine, const std::function<bool()> &done, int timeout_ms) {
  double deadline = test_now_ms() + timeout_ms;
  int fd = engine.event_fd();
  for (;;) {
    engine.process_events();
    if (done()) return true;
    double left = deadline - test_now_ms();
    if (left <= 0) return false;
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, left < 50 ? (int)left + 1 : 50);
  }
}

/** Polls a condition that has no event (e.g. is_connected() going false) until it holds or the timeout. */
inline bool wait_until(const std::function<bool()> &done, int timeout_ms) {
  double deadline = test_now_ms() + timeout_ms;
  while (test_now_ms() < deadline) {
    if (done()) return true;
    usleep(10000);
  }
  return done();
}

/** Removes this process's database directory (harness.c's test_db_path() makes it and never removes it). Call after every engine is gone. */
inline void remove_db_dir() {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(test_db_path("x")).parent_path();
  if (dir.filename().string().rfind("sync-native-test-", 0) == 0) std::filesystem::remove_all(dir, ec);
}

}  // namespace cpptest

#endif
