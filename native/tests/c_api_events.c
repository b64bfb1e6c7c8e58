/* Events through the C API, against the real server:
 * - connection events in order ConnectionAttempted → ConnectionSucceeded → SyncStarted → SyncCompleted;
 * - a change from a second engine of the same user arrives through sync_engine_process_events on the
 *   thread that calls it, with type, id, title and content right (created, updated, deleted);
 * - boolean_data is true for local changes, false for remote ones;
 * - callbacks may call sync_* functions; filters; unregister (twice → NOT_FOUND);
 * - the notify callback fires once, from another thread, until the next process_events;
 * - the event fd is readable while events wait and not after they were drained;
 * - engines of one process keep their events apart; destroy with events queued calls nothing. */
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- a recorder: every event one callback saw, copied ---------------------------------------- */

#define MAX_EVENTS 512

typedef struct Recorded {
  SyncEventType type;
  char document_id[37];
  char title[128];
  char content[512];
  bool has_content;
  bool local;
  unsigned long long numeric;
  pthread_t thread;
} Recorded;

typedef struct Recorder {
  SyncEngineHandle *engine; /* for calls made from inside the callback */
  int count;
  Recorded events[MAX_EVENTS];
  /* Results of sync_* calls made inside the callback, on remote DocumentCreated. */
  int inner_calls;
  int inner_failures;
  char inner_json[512];
} Recorder;

static void record(const SyncEventData *e, void *context) {
  Recorder *r = context;
  if (r->count >= MAX_EVENTS) return;
  Recorded *x = &r->events[r->count++];
  memset(x, 0, sizeof *x);
  x->type = e->event_type;
  snprintf(x->document_id, sizeof x->document_id, "%s", e->document_id ? e->document_id : "");
  snprintf(x->title, sizeof x->title, "%s", e->title ? e->title : "");
  x->has_content = e->content != NULL;
  snprintf(x->content, sizeof x->content, "%s", e->content ? e->content : "");
  x->local = e->boolean_data;
  x->numeric = e->numeric_data;
  x->thread = pthread_self();
  if (r->engine && e->event_type == SYNC_EVENT_DOCUMENT_CREATED && !e->boolean_data && e->document_id) {
    /* Callbacks may call any sync_* function (except destroying their own engine). */
    char *json = NULL;
    uint64_t n = 0;
    r->inner_calls++;
    if (sync_engine_get_document(r->engine, e->document_id, &json) != SYNC_RESULT_SUCCESS || !json) r->inner_failures++;
    if (sync_engine_count_documents(r->engine, &n) != SYNC_RESULT_SUCCESS || n == 0) r->inner_failures++;
    snprintf(r->inner_json, sizeof r->inner_json, "%s", json ? json : "");
    sync_string_free(json);
  }
}

/** Index of the first event of `type` (for `id` when not NULL) at or after `from`; -1 if none. */
static int find_event(const Recorder *r, SyncEventType type, const char *id, int from) {
  for (int i = from; i < r->count; i++) {
    if (r->events[i].type == type && (!id || strcmp(r->events[i].document_id, id) == 0)) return i;
  }
  return -1;
}

typedef struct Wanted {
  Recorder *recorder;
  SyncEventType type;
  const char *id;
} Wanted;

static bool has_wanted(void *context) {
  Wanted *w = context;
  return find_event(w->recorder, w->type, w->id, 0) >= 0;
}

static bool wait_event(SyncEngineHandle *e, Recorder *r, SyncEventType type, const char *id, int timeout_ms) {
  Wanted w = {r, type, id};
  return test_pump_until(e, has_wanted, &w, timeout_ms);
}

/* ---- counting callbacks ------------------------------------------------------------------- */

typedef struct Counter {
  int total;
  int by_type[10];
} Counter;

static void count_event(const SyncEventData *e, void *context) {
  Counter *c = context;
  c->total++;
  if ((int)e->event_type >= 0 && (int)e->event_type < 10) c->by_type[e->event_type]++;
}

typedef struct Notified {
  atomic_int calls;
  pthread_t thread;
  atomic_bool other_thread;
} Notified;

static pthread_t main_thread;

static void on_notify(void *context) {
  Notified *n = context;
  n->thread = pthread_self();
  atomic_store(&n->other_thread, !pthread_equal(pthread_self(), main_thread));
  atomic_fetch_add(&n->calls, 1);
}

static bool fd_readable(int fd, int timeout_ms) {
  struct pollfd p = {fd, POLLIN, 0};
  int rc = poll(&p, 1, timeout_ms);
  return rc == 1 && (p.revents & POLLIN);
}

static void drain(SyncEngineHandle *e) {
  uint32_t n = 0;
  CHECK(sync_engine_process_events(e, &n) == SYNC_RESULT_SUCCESS);
}

/* ---- pumping from a thread that is not main ------------------------------------------------- */

typedef struct Pumper {
  SyncEngineHandle *engine;
  Recorder *recorder;
  const char *id;
  bool arrived;
  pthread_t self;
} Pumper;

static void *pump_thread(void *arg) {
  Pumper *p = arg;
  p->self = pthread_self();
  p->arrived = wait_event(p->engine, p->recorder, SYNC_EVENT_DOCUMENT_CREATED, p->id, 20000);
  return NULL;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  main_thread = pthread_self();
  char email[128], other_email[128];
  test_unique_email(email, sizeof email, "events");
  test_unique_email(other_email, sizeof other_email, "events-other");

  /* Connection events, in order, from the engine's first moments (the callback is registered
   * after create returns: those events wait in the queue). */
  SyncEngineHandle *a = test_engine(&env, "ev_a", email);
  REQUIRE(a != NULL);
  static Recorder ra;
  ra.engine = a;
  CHECK(sync_engine_register_event_callback(a, record, &ra, -1) == SYNC_RESULT_SUCCESS);
  CHECK(wait_event(a, &ra, SYNC_EVENT_SYNC_COMPLETED, NULL, 20000));
  {
    int attempted = find_event(&ra, SYNC_EVENT_CONNECTION_ATTEMPTED, NULL, 0);
    int succeeded = find_event(&ra, SYNC_EVENT_CONNECTION_SUCCEEDED, NULL, 0);
    int started = find_event(&ra, SYNC_EVENT_SYNC_STARTED, NULL, 0);
    int completed = find_event(&ra, SYNC_EVENT_SYNC_COMPLETED, NULL, 0);
    CHECK(attempted >= 0);
    if (attempted < 0 || succeeded < attempted || started < succeeded || completed < started) {
      fprintf(stderr, "connection events seen:");
      for (int i = 0; i < ra.count; i++) fprintf(stderr, " %d", (int)ra.events[i].type);
      fprintf(stderr, "\n");
    }
    CHECK(attempted < succeeded);
    CHECK(succeeded < started);
    CHECK(started < completed);
    if (attempted >= 0) CHECK(ra.events[attempted].numeric >= 1);
    for (int i = 0; i < ra.count; i++) CHECK(pthread_equal(ra.events[i].thread, main_thread));
  }

  /* A second engine of the same user. */
  SyncEngineHandle *b = test_engine(&env, "ev_b", email);
  REQUIRE(b != NULL);
  static Recorder rb;
  rb.engine = b;
  CHECK(sync_engine_register_event_callback(b, record, &rb, -1) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_flush(b, 20000) == SYNC_RESULT_SUCCESS);
  drain(b);

  /* A local create: delivered to a's callback with boolean_data true; b gets it remotely, through
   * process_events called on a thread of its own, with boolean_data false. */
  char id[37];
  ra.count = 0;
  Pumper pumper = {b, &rb, id, false, 0};
  CHECK(sync_engine_create_document(a, "{\"title\":\"From A\",\"color\":\"red\",\"n\":1}", id) == SYNC_RESULT_SUCCESS);
  pthread_t t;
  REQUIRE(pthread_create(&t, NULL, pump_thread, &pumper) == 0);
  pthread_join(t, NULL);
  drain(a);
  {
    int i = find_event(&ra, SYNC_EVENT_DOCUMENT_CREATED, id, 0);
    CHECK(i >= 0);
    if (i >= 0) {
      CHECK(ra.events[i].local);
      CHECK(strcmp(ra.events[i].title, "From A") == 0);
      CHECK(strstr(ra.events[i].content, "\"color\":\"red\"") != NULL);
    }
  }
  CHECK(pumper.arrived);
  {
    int i = find_event(&rb, SYNC_EVENT_DOCUMENT_CREATED, id, 0);
    CHECK(i >= 0);
    if (i >= 0) {
      Recorded *x = &rb.events[i];
      CHECK(pthread_equal(x->thread, pumper.self));
      CHECK(!pthread_equal(x->thread, main_thread));
      CHECK(!x->local);
      CHECK(strcmp(x->document_id, id) == 0);
      CHECK(strcmp(x->title, "From A") == 0);
      CHECK(x->has_content);
      CHECK(strstr(x->content, "\"color\":\"red\"") != NULL);
      CHECK(strstr(x->content, "\"n\":1") != NULL);
    }
    /* The callback's own sync_* calls worked and saw the document. */
    CHECK(rb.inner_calls >= 1);
    CHECK(rb.inner_failures == 0);
    CHECK(strstr(rb.inner_json, "\"color\":\"red\"") != NULL);
  }

  /* Update and delete arrive too (on the main thread this time). */
  CHECK(sync_engine_update_document(a, id, "{\"title\":\"From A 2\",\"color\":\"blue\"}") == SYNC_RESULT_SUCCESS);
  CHECK(wait_event(b, &rb, SYNC_EVENT_DOCUMENT_UPDATED, id, 20000));
  {
    int i = find_event(&rb, SYNC_EVENT_DOCUMENT_UPDATED, id, 0);
    if (i >= 0) {
      Recorded *x = &rb.events[i];
      CHECK(pthread_equal(x->thread, main_thread));
      CHECK(!x->local);
      CHECK(strcmp(x->title, "From A 2") == 0);
      CHECK(strstr(x->content, "\"color\":\"blue\"") != NULL);
      CHECK(strstr(x->content, "\"n\"") == NULL);
    }
  }
  CHECK(sync_engine_delete_document(a, id) == SYNC_RESULT_SUCCESS);
  CHECK(wait_event(b, &rb, SYNC_EVENT_DOCUMENT_DELETED, id, 20000));
  {
    int i = find_event(&rb, SYNC_EVENT_DOCUMENT_DELETED, id, 0);
    if (i >= 0) {
      CHECK(!rb.events[i].local);
      CHECK(!rb.events[i].has_content);
    }
  }
  drain(a);
  {
    int u = find_event(&ra, SYNC_EVENT_DOCUMENT_UPDATED, id, 0);
    int d = find_event(&ra, SYNC_EVENT_DOCUMENT_DELETED, id, 0);
    CHECK(u >= 0 && ra.events[u].local);
    CHECK(d >= 0 && ra.events[d].local);
  }

  /* Filter: a callback registered for DocumentUpdated only never sees created events. */
  static Counter only_updates;
  CHECK(sync_engine_register_event_callback(a, count_event, &only_updates, SYNC_EVENT_DOCUMENT_UPDATED) == SYNC_RESULT_SUCCESS);
  char fid[37];
  CHECK(sync_engine_create_document(a, "{\"title\":\"Filtered\",\"v\":1}", fid) == SYNC_RESULT_SUCCESS);
  drain(a);
  CHECK(only_updates.total == 0);
  CHECK(sync_engine_update_document(a, fid, "{\"title\":\"Filtered\",\"v\":2}") == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_merge_document(a, fid, "{\"v\":3}") == SYNC_RESULT_SUCCESS);
  drain(a);
  CHECK(only_updates.total == 2);
  CHECK(only_updates.by_type[SYNC_EVENT_DOCUMENT_UPDATED] == 2);
  CHECK(only_updates.by_type[SYNC_EVENT_DOCUMENT_CREATED] == 0);

  /* Unregister: no more calls; a second unregister is NOT_FOUND; other registrations stay. */
  static Counter second_context;
  CHECK(sync_engine_register_event_callback(a, count_event, &second_context, -1) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_unregister_event_callback(a, count_event, &only_updates) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_unregister_event_callback(a, count_event, &only_updates) == SYNC_RESULT_NOT_FOUND);
  CHECK(sync_last_error_message()[0] != '\0');
  CHECK(sync_engine_update_document(a, fid, "{\"title\":\"Filtered\",\"v\":4}") == SYNC_RESULT_SUCCESS);
  drain(a);
  CHECK(only_updates.total == 2);
  CHECK(second_context.by_type[SYNC_EVENT_DOCUMENT_UPDATED] == 1);
  CHECK(sync_engine_unregister_event_callback(a, count_event, &second_context) == SYNC_RESULT_SUCCESS);

  /* Notify and event fd, with a offline so that only local changes make events. */
  CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_set_online(a, false) == SYNC_RESULT_SUCCESS);
  {
    double quiet_until = test_now_ms() + 300;
    while (test_now_ms() < quiet_until) {
      drain(a);
      usleep(20000);
    }
  }
  int fd = sync_engine_event_fd(a);
  CHECK(fd >= 0);
  CHECK(sync_engine_event_fd(a) == fd);
  if (fd >= 0) {
    CHECK(!fd_readable(fd, 0));
    char x[37];
    CHECK(sync_engine_create_document(a, "{\"title\":\"fd\"}", x) == SYNC_RESULT_SUCCESS);
    CHECK(fd_readable(fd, 2000));
    CHECK(fd_readable(fd, 0)); /* level: stays readable until drained */
    uint32_t n = 0;
    CHECK(sync_engine_process_events(a, &n) == SYNC_RESULT_SUCCESS);
    CHECK(n >= 1);
    CHECK(!fd_readable(fd, 0));
    CHECK(!fd_readable(fd, 100));
    CHECK(sync_engine_process_events(a, &n) == SYNC_RESULT_SUCCESS);
    CHECK(n == 0);
  }
  {
    static Notified notified;
    CHECK(sync_engine_set_event_notify(a, on_notify, &notified) == SYNC_RESULT_SUCCESS);
    CHECK(atomic_load(&notified.calls) == 0); /* nothing waits yet */
    char x[37];
    for (int i = 0; i < 3; i++) CHECK(sync_engine_create_document(a, "{\"title\":\"notify\"}", x) == SYNC_RESULT_SUCCESS);
    double deadline = test_now_ms() + 2000;
    while (atomic_load(&notified.calls) == 0 && test_now_ms() < deadline) usleep(1000);
    usleep(100000);
    CHECK(atomic_load(&notified.calls) == 1); /* once, for three events */
    CHECK(atomic_load(&notified.other_thread));
    uint32_t n = 0;
    CHECK(sync_engine_process_events(a, &n) == SYNC_RESULT_SUCCESS);
    CHECK(n == 3);
    CHECK(atomic_load(&notified.calls) == 1);
    CHECK(sync_engine_update_document(a, x, "{\"title\":\"notify again\"}") == SYNC_RESULT_SUCCESS);
    deadline = test_now_ms() + 2000;
    while (atomic_load(&notified.calls) < 2 && test_now_ms() < deadline) usleep(1000);
    CHECK(atomic_load(&notified.calls) == 2); /* re-armed by process_events */
    drain(a);
    /* NULL removes it. */
    CHECK(sync_engine_set_event_notify(a, NULL, NULL) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_update_document(a, x, "{\"title\":\"no notify\"}") == SYNC_RESULT_SUCCESS);
    usleep(100000);
    CHECK(atomic_load(&notified.calls) == 2);
    drain(a);
  }
  CHECK(sync_engine_set_online(a, true) == SYNC_RESULT_SUCCESS);

  /* Engines of one process keep their events apart: a third engine (another user) sees its own
   * local change; a and b never see it. */
  {
    SyncEngineHandle *c = test_engine(&env, "ev_c", other_email);
    REQUIRE(c != NULL);
    static Recorder rc;
    CHECK(sync_engine_register_event_callback(c, record, &rc, -1) == SYNC_RESULT_SUCCESS);
    char cid[37];
    CHECK(sync_engine_create_document(c, "{\"title\":\"Only C\"}", cid) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_flush(c, 20000) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_flush(b, 20000) == SYNC_RESULT_SUCCESS);
    drain(a);
    drain(b);
    drain(c);
    int i = find_event(&rc, SYNC_EVENT_DOCUMENT_CREATED, cid, 0);
    CHECK(i >= 0 && rc.events[i].local);
    CHECK(find_event(&ra, SYNC_EVENT_DOCUMENT_CREATED, cid, 0) < 0);
    CHECK(find_event(&rb, SYNC_EVENT_DOCUMENT_CREATED, cid, 0) < 0);
    /* and c sees nothing of a's documents */
    CHECK(find_event(&rc, SYNC_EVENT_DOCUMENT_CREATED, fid, 0) < 0);
    uint64_t n = 0;
    CHECK(sync_engine_count_documents(c, &n) == SYNC_RESULT_SUCCESS && n == 1);
    sync_engine_destroy(c);
  }

  /* Destroy with events queued: no crash, no callback and no notify after destroy. */
  {
    SyncEngineHandle *d = test_engine(&env, "ev_d", email);
    REQUIRE(d != NULL);
    static Counter never;
    static Notified d_notified;
    CHECK(sync_engine_register_event_callback(d, count_event, &never, -1) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_set_event_notify(d, on_notify, &d_notified) == SYNC_RESULT_SUCCESS);
    char x[37];
    for (int i = 0; i < 50; i++) CHECK(sync_engine_create_document(d, "{\"title\":\"queued\"}", x) == SYNC_RESULT_SUCCESS);
    double t0 = test_now_ms();
    sync_engine_destroy(d);
    double took = test_now_ms() - t0;
    printf("destroy with 50 queued events: %.1f ms\n", took);
    CHECK(took < 1500);
    int notified_at_destroy = atomic_load(&d_notified.calls);
    CHECK(notified_at_destroy == 1);
    CHECK(never.total == 0);
    /* Other engines keep working; d's leftovers (its changes reaching b) do not reach d's callback. */
    double until = test_now_ms() + 500;
    while (test_now_ms() < until) {
      drain(a);
      drain(b);
      usleep(20000);
    }
    CHECK(never.total == 0);
    CHECK(atomic_load(&d_notified.calls) == notified_at_destroy);
  }

  sync_engine_destroy(b);
  sync_engine_destroy(a);
  return test_finish("c_api_events");
}
