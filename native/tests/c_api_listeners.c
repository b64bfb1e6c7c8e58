/* Listener handles (sync_engine_add_listener / sync_listener_remove) on an offline engine, where
 * only this engine's own document events arrive, so counts are exact:
 * - filters (one type, SYNC_EVENT_ALL); a handle removes only its own listener, also when the same
 *   callback and context are added twice; out may be NULL (the listener lives until destroy);
 * - a callback removing itself or another listener mid-batch: the removed one is never called again;
 * - removal from another thread returns only after the running callback has, so its context may be
 *   freed right after;
 * - sync_engine_unregister_event_callback removes listeners added either way. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

typedef struct Count {
  int all;
  int created;
} Count;

static void count(const SyncEventData *e, void *context) {
  Count *c = context;
  c->all++;
  if (e->event_type == SYNC_EVENT_DOCUMENT_CREATED) c->created++;
}

static void create_docs(SyncEngineHandle *e, int n) {
  char id[SYNC_DOCUMENT_ID_SIZE];
  for (int i = 0; i < n; i++) CHECK(sync_engine_create_document(e, "{\"title\":\"listener\"}", id) == SYNC_RESULT_SUCCESS);
}

static uint32_t pump(SyncEngineHandle *e) {
  uint32_t n = 0;
  CHECK(sync_engine_process_events(e, &n) == SYNC_RESULT_SUCCESS);
  return n;
}

/* ---- removal from inside a callback ----------------------------------------------------------- */

typedef struct Removing {
  SyncListener *self;     /* removed by its own callback on the first call */
  SyncListener *victim;   /* removed by the remover's first call */
  int self_calls, remover_calls, victim_calls, victim_calls_after;
  bool victim_gone;
} Removing;

static void removes_itself(const SyncEventData *e, void *context) {
  (void)e;
  Removing *r = context;
  r->self_calls++;
  sync_listener_remove(r->self);
}

static void removes_victim(const SyncEventData *e, void *context) {
  (void)e;
  Removing *r = context;
  r->remover_calls++;
  if (!r->victim_gone) {
    sync_listener_remove(r->victim);
    r->victim_gone = true;
  }
}

static void victim(const SyncEventData *e, void *context) {
  (void)e;
  Removing *r = context;
  r->victim_calls++;
  if (r->victim_gone) r->victim_calls_after++;
}

/* ---- removal from another thread ---------------------------------------------------------------- */

typedef struct Slow {
  atomic_bool in_callback;
  atomic_bool returned;
  atomic_int calls;
} Slow;

static void slow_callback(const SyncEventData *e, void *context) {
  (void)e;
  Slow *s = context;
  atomic_fetch_add(&s->calls, 1);
  atomic_store(&s->in_callback, true);
  usleep(300 * 1000); /* the other thread calls sync_listener_remove meanwhile */
  atomic_store(&s->returned, true);
}

typedef struct Remover {
  SyncListener *listener;
  Slow *slow;
  bool returned_first;
} Remover;

static void *remove_from_thread(void *arg) {
  Remover *r = arg;
  while (!atomic_load(&r->slow->in_callback)) usleep(1000);
  sync_listener_remove(r->listener);
  r->returned_first = atomic_load(&r->slow->returned);
  free(r->slow); /* what the contract allows once remove returned */
  r->slow = NULL;
  return NULL;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  SyncEngineConfig config;
  test_config(&config, &env, "listeners", "listeners@example.com");
  config.start_offline = true;
  SyncEngineHandle *e = NULL;
  REQUIRE(sync_engine_open(&config, &e) == SYNC_RESULT_SUCCESS && e != NULL);

  /* Filters, handles, duplicates, out NULL. */
  Count all = {0}, created_only = {0}, twice = {0}, unkept = {0};
  SyncListener *all_l = NULL, *created_l = NULL, *twice_1 = NULL, *twice_2 = NULL;
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, count, &all, &all_l) == SYNC_RESULT_SUCCESS && all_l != NULL);
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_DOCUMENT_CREATED, count, &created_only, &created_l) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, count, &twice, &twice_1) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, count, &twice, &twice_2) == SYNC_RESULT_SUCCESS);
  CHECK(twice_1 != twice_2);
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, count, &unkept, NULL) == SYNC_RESULT_SUCCESS);
  char id[SYNC_DOCUMENT_ID_SIZE];
  CHECK(sync_engine_create_document(e, "{\"title\":\"a\"}", id) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_update_document(e, id, "{\"title\":\"b\"}") == SYNC_RESULT_SUCCESS);
  CHECK(pump(e) == 2);
  CHECK(all.all == 2 && all.created == 1);
  CHECK(created_only.all == 1 && created_only.created == 1);
  CHECK(twice.all == 4);
  CHECK(unkept.all == 2);

  sync_listener_remove(created_l);
  sync_listener_remove(twice_1); /* only this one of the two identical listeners */
  create_docs(e, 1);
  CHECK(pump(e) == 1);
  CHECK(created_only.all == 1);
  CHECK(twice.all == 5);
  CHECK(all.all == 3 && unkept.all == 3);

  /* The original API removes every listener with that callback and context, however it was added. */
  CHECK(sync_engine_unregister_event_callback(e, count, &twice) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_unregister_event_callback(e, count, &unkept) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_register_event_callback(e, count, &unkept, SYNC_EVENT_DOCUMENT_DELETED) == SYNC_RESULT_SUCCESS);
  create_docs(e, 1);
  CHECK(pump(e) == 1);
  CHECK(twice.all == 5 && unkept.all == 3 && all.all == 4);
  sync_listener_remove(all_l);

  /* Removal inside a batch: itself, and another listener; three events in one batch. */
  Removing r;
  memset(&r, 0, sizeof r);
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, removes_itself, &r, &r.self) == SYNC_RESULT_SUCCESS);
  SyncListener *remover = NULL;
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, removes_victim, &r, &remover) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, victim, &r, &r.victim) == SYNC_RESULT_SUCCESS);
  create_docs(e, 3);
  CHECK(pump(e) == 3);
  CHECK(r.self_calls == 1);
  CHECK(r.remover_calls == 3);
  CHECK(r.victim_calls == 0 && r.victim_calls_after == 0); /* removed before its first turn */
  sync_listener_remove(remover);

  /* Removal from another thread waits for the running callback. */
  Slow *slow = calloc(1, sizeof *slow);
  REQUIRE(slow != NULL);
  Remover rm = {NULL, slow, false};
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, slow_callback, slow, &rm.listener) == SYNC_RESULT_SUCCESS);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, remove_from_thread, &rm) == 0);
  create_docs(e, 2); /* two events: the second would reach the freed context if removal did not hold */
  CHECK(pump(e) == 2);
  pthread_join(t, NULL);
  CHECK(rm.returned_first);
  CHECK(rm.slow == NULL);

  /* Listeners still registered at destroy go with the engine. */
  Count last = {0};
  CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, count, &last, NULL) == SYNC_RESULT_SUCCESS);
  create_docs(e, 1);
  sync_engine_destroy(e);
  CHECK(last.all == 0);
  return test_finish("c_api_listeners");
}
