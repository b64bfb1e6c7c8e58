// The original README's "C++ Example with Lambdas", snippet 15, as it is: the lambda it registers
// (and whose handle it drops) must see the document a second engine of the same user creates.
// How: seed_harness.h.
#include <chrono>
#include <iostream>
#include <thread>

#include "sync_client_events.h"
#include "seed_harness.h"

#ifndef SEED_SNIPPET
#error "SEED_SNIPPET must name the snippet file (15.cpp)"
#endif

#define running seed_running(": DocumentCreated")
#define SyncEngine SyncClient::seed_engine
#define main seed_snippet_main
#include SEED_SNIPPET
#undef main

int main() {
  seed_setup("seed-15");
  seed_capture_stdout();
  int code = seed_snippet_main();
  seed_release_stdout();
  return seed_finish("seed snippet 15", code, seed.observed);
}
