/* Conflicts reach C: two engines of one user edit the same path of one document while offline.
 * The first to reconnect wins; the loser's engine delivers SYNC_EVENT_CONFLICT_DETECTED through
 * sync_engine_process_events with the server's content, then the DocumentUpdated that makes its
 * copy the server's, and sync_engine_get_conflicts lists the rejected change. The winner sees none. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_SEEN 64

typedef struct Seen {
  int count;
  struct {
    SyncEventType type;
    char id[SYNC_DOCUMENT_ID_SIZE];
    char content[256];
    char error[64];
    bool local;
  } events[MAX_SEEN];
} Seen;

static void record(const SyncEventData *e, void *context) {
  Seen *s = context;
  if (s->count >= MAX_SEEN || !e->document_id) return;
  s->events[s->count].type = e->event_type;
  snprintf(s->events[s->count].id, sizeof s->events[0].id, "%s", e->document_id);
  snprintf(s->events[s->count].content, sizeof s->events[0].content, "%s", e->content ? e->content : "");
  snprintf(s->events[s->count].error, sizeof s->events[0].error, "%s", e->error ? e->error : "");
  s->events[s->count].local = e->boolean_data;
  s->count++;
}

/* Index of the first event of `type` for document `id`, or -1. */
static int find(const Seen *s, SyncEventType type, const char *id) {
  for (int i = 0; i < s->count; i++) {
    if (s->events[i].type == type && strcmp(s->events[i].id, id) == 0) return i;
  }
  return -1;
}

typedef struct Waiting {
  const Seen *seen;
  SyncEventType type;
  const char *id;
} Waiting;

static bool arrived(void *context) {
  const Waiting *w = context;
  return find(w->seen, w->type, w->id) >= 0;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  char email[128];
  test_unique_email(email, sizeof email, "conflicts");
  SyncEngineHandle *a = test_engine(&env, "conflict_a", email);
  SyncEngineHandle *b = test_engine(&env, "conflict_b", email);
  REQUIRE(a != NULL && b != NULL);
  static Seen seen_a, seen_b;
  CHECK(sync_engine_add_listener(a, SYNC_EVENT_ALL, record, &seen_a, NULL) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_add_listener(b, SYNC_EVENT_ALL, record, &seen_b, NULL) == SYNC_RESULT_SUCCESS);

  char id[SYNC_DOCUMENT_ID_SIZE];
  CHECK(sync_engine_create_document(a, "{\"title\":\"Shared\",\"status\":\"todo\",\"note\":\"n\"}", id) == SYNC_RESULT_SUCCESS);
  Waiting b_has_it = {&seen_b, SYNC_EVENT_DOCUMENT_CREATED, id};
  REQUIRE(test_pump_until(b, arrived, &b_has_it, 20000));

  /* Both edit /status offline. */
  CHECK(sync_engine_set_online(a, false) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_set_online(b, false) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_merge_document(a, id, "{\"status\":\"done\"}") == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_merge_document(b, id, "{\"status\":\"blocked\"}") == SYNC_RESULT_SUCCESS);

  /* A reaches the server first and wins; then B. */
  CHECK(sync_engine_set_online(a, true) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_set_online(b, true) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_flush(b, 20000) == SYNC_RESULT_SUCCESS);
  Waiting b_conflict = {&seen_b, SYNC_EVENT_CONFLICT_DETECTED, id};
  CHECK(test_pump_until(b, arrived, &b_conflict, 20000));

  int c = find(&seen_b, SYNC_EVENT_CONFLICT_DETECTED, id);
  if (c >= 0) {
    printf("B's ConflictDetected: content %s, error %s\n", seen_b.events[c].content, seen_b.events[c].error);
    CHECK(strstr(seen_b.events[c].content, "\"status\":\"done\"") != NULL); /* the server's version */
    CHECK(strstr(seen_b.events[c].content, "blocked") == NULL);
    CHECK(strcmp(seen_b.events[c].error, "server_wins") == 0);
    CHECK(!seen_b.events[c].local);
    /* Then the update that makes B's copy the server's. */
    CHECK(c + 1 < seen_b.count && seen_b.events[c + 1].type == SYNC_EVENT_DOCUMENT_UPDATED);
    CHECK(c + 1 < seen_b.count && strstr(seen_b.events[c + 1].content, "\"status\":\"done\"") != NULL);
  }
  int conflicts_on_b = 0;
  for (int i = 0; i < seen_b.count; i++) conflicts_on_b += seen_b.events[i].type == SYNC_EVENT_CONFLICT_DETECTED;
  CHECK(conflicts_on_b == 1);

  char *conflicts = NULL;
  CHECK(sync_engine_get_conflicts(b, &conflicts) == SYNC_RESULT_SUCCESS);
  REQUIRE(conflicts != NULL);
  printf("B's conflicts: %s\n", conflicts);
  char expected[96];
  snprintf(expected, sizeof expected, "\"document_id\":\"%s\"", id);
  CHECK(strstr(conflicts, expected) != NULL);
  CHECK(strstr(conflicts, "\"reason\":\"conflict\"") != NULL);
  CHECK(strstr(conflicts, "\"value\":\"blocked\"") != NULL); /* the rejected change */
  sync_string_free(conflicts);

  char *doc = NULL;
  CHECK(sync_engine_get_document(b, id, &doc) == SYNC_RESULT_SUCCESS);
  CHECK(doc && strstr(doc, "\"status\":\"done\"") != NULL);
  sync_string_free(doc);

  /* The winner: no conflict event, nothing recorded. */
  CHECK(sync_engine_process_events(a, NULL) == SYNC_RESULT_SUCCESS);
  CHECK(find(&seen_a, SYNC_EVENT_CONFLICT_DETECTED, id) < 0);
  CHECK(sync_engine_get_conflicts(a, &conflicts) == SYNC_RESULT_SUCCESS);
  CHECK(conflicts && strcmp(conflicts, "[]") == 0);
  sync_string_free(conflicts);

  sync_engine_destroy(a);
  sync_engine_destroy(b);
  return test_finish("c_api_conflicts");
}
