/* The original README's "Quick C Example" (event callbacks), snippet 14, as it is: its callback must
 * print the document a second engine of the same user creates. How: seed_harness.h. */
#include <stdio.h>  /* printf and usleep: the snippet leaves its includes beyond the SDK's to its surroundings */
#include <unistd.h>

#include "sync_client_events.h"
#include "seed_harness.h"

#ifndef SEED_SNIPPET
#error "SEED_SNIPPET must name the snippet file (14.c)"
#endif

#define running seed_running("Document created: " SEED_PEER_TITLE)
#define sync_engine_create seed_engine_create
#define main seed_snippet_main
#include SEED_SNIPPET
#undef main

int main(void) {
  seed_setup("seed-14");
  seed_capture_stdout();
  int code = seed_snippet_main();
  seed_release_stdout();
  return seed_finish("seed snippet 14", code, seed.observed);
}
