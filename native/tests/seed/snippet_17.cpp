// The original README's "C++ Integration" example, snippet 17, as it is: SyncClient::sync_engine
// creates and updates a document; the update must reach the server. How: seed_harness.h.
#include <iostream>

#include "sync_client.hpp"
#include "seed_harness.h"

#ifndef SEED_SNIPPET
#error "SEED_SNIPPET must name the snippet file (17.cpp)"
#endif

#define sync_engine seed_engine
#define main seed_snippet_main
#include SEED_SNIPPET
#undef main

int main() {
  seed_setup("seed-17");
  int code = seed_snippet_main();
  return seed_finish("seed snippet 17", code, code == 0 && seed_server_has("\"content\":\"Hello Updated World\""));
}
