/* <X11/X.h> included BEFORE sync_client.h: X11's `#define Success 0` must not break the header
 * (the enumerator Success is only declared without the macro). Built with -std=c99 -Wall -Werror. */
#include <X11/X.h>

#include "sync_client.h"
#include "sync_client_events.h"

#include <stdio.h>
#include <string.h>

int main(void) {
  int failures = 0;
  SyncResult r = Success; /* X11's macro, usable as the result code */
  if (Success != 0 || SYNC_RESULT_SUCCESS != 0 || r != SYNC_RESULT_SUCCESS) failures++;
  if (BadRequest != 1) failures++; /* X.h really is in effect */
  if (strcmp(sync_event_type_name(SYNC_EVENT_CONNECTION_SUCCEEDED), "ConnectionSucceeded") != 0) failures++;
  if (strcmp(sync_get_version(), SYNC_CLIENT_VERSION) != 0) failures++;
  /* A real call returning the code, compared with both spellings. */
  if (sync_engine_process_events(NULL, NULL) == Success || sync_engine_process_events(NULL, NULL) == SYNC_RESULT_SUCCESS) failures++;
  printf("rt_x11: %d passed, %d failed\n", failures == 0, failures != 0);
  return failures == 0 ? 0 : 1;
}
