/* <X11/X.h> included AFTER sync_client.h and sync_client_events.h: the enumerator Success exists
 * first, then X11 redefines the name as a macro of the same value. Built with -std=c99 -Wall -Werror. */
#include "sync_client.h"
#include "sync_client_events.h"

#include <X11/X.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  int failures = 0;
  SyncResult r = SYNC_RESULT_SUCCESS;
  if (Success != 0 || SYNC_RESULT_SUCCESS != 0 || r != Success) failures++;
  if (BadRequest != 1) failures++;
  if (strcmp(sync_event_type_name(SYNC_EVENT_DOCUMENT_CREATED), "DocumentCreated") != 0) failures++;
  if (strcmp(sync_get_version(), SYNC_CLIENT_VERSION) != 0) failures++;
  if (sync_engine_process_events(NULL, NULL) == Success || sync_engine_process_events(NULL, NULL) == SYNC_RESULT_SUCCESS) failures++;
  printf("rt_x11_after: %d passed, %d failed\n", failures == 0, failures != 0);
  return failures == 0 ? 0 : 1;
}
