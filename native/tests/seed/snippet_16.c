/* The original README's "C API Example", snippet 16, as it is (compiled as C, and as C++ by
 * snippet_16_cxx.cpp): it frees sync_get_version()'s string with sync_string_free(), creates and
 * updates a document; the update must reach the server. How: seed_harness.h. */
#include <stdio.h>
#include <stdlib.h>

#include "sync_client.h"
#include "seed_harness.h"

#ifndef SEED_SNIPPET
#error "SEED_SNIPPET must name the snippet file (16.c)"
#endif

#define sync_engine_create seed_engine_create
#define main seed_snippet_main
#include SEED_SNIPPET
#undef main

int main(void) {
  seed_setup("seed-16");
  int code = seed_snippet_main();
  return seed_finish("seed snippet 16", code, code == 0 && seed_server_has("\"content\":\"Hello Updated World\""));
}
