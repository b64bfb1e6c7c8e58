/*
 * sync_bench — measures libsync_client through its C API. Driven by bench/native/run.mjs, which
 * starts the server and compares with the TypeScript engine; every mode prints its results as JSON lines.
 *
 *   sync_bench ops    --dir D --count N [--warmup W] [--online --server URL --email E --key K --secret S]
 *       N creates then N updates (full replacement), each call timed. Offline: start_offline.
 *   sync_bench cold   --db FILE --server URL --email E --key K --secret S [--docs 100]
 *       a fresh process: sync_engine_create (seed signature) → first create_document, then VmRSS
 *       after `docs` documents (and again once synced).
 *   sync_bench reads  --db FILE [--docs 2000] [--count 20000] [--encryption-key HEX]
 *       get_document of random ids among `docs`, each call timed, on a plain or (with a key) an
 *       encrypted database: bench/native/encryption.mjs compares the two.
 *   sync_bench reader --dir D --server URL --email A --email-b B --key K --secret S [--interval-us 2000] [--docs 100]
 *       engines A and B of two users in this process; prints READY once both are synced and A holds
 *       `docs` documents. Then for each line "WINDOW name ms" on stdin: every interval, get_document,
 *       count_documents and is_connected on A and one write on A (create_document and
 *       update_document by turns), each timed, with process_events on A and B every 10 ms (a UI
 *       timer) and a round trip to another thread as the machine's baseline; one JSON line per
 *       window. run.mjs streams changes into A's user, B's user or neither meanwhile.
 *   sync_bench queries --dir D [--docs 100000] [--runs 500]
 *       an offline engine with `docs` task-like documents (bench/query/device.mjs's shape) and the
 *       indexes a task list declares; each query of QUERIES run `runs` times through
 *       sync_engine_query on this thread (after a warm-up that compiles it), timed; prints the
 *       timings with each query's statement (explain), which run.mjs then runs on raw SQLite.
 *   sync_bench live --dir D --server URL --email E --key K --secret S [--count 200]
 *       engines A and B of one user; A watches {"where":{"kind":"probe"}}. B creates `count` probes,
 *       one at a time; A is pumped every 0.1 ms. Per probe: B's create returned → A's DocumentCreated
 *       callback (the change's end-to-end time), and → the live query's callback for it.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "sync_client.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double real_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/** CPU time of the whole process (every thread: caller, JS runtime, V8 helpers), ms. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/** Involuntary context switches of the process so far (a sign of CPU contention). */
static long preempted(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nivcsw;
}

static void sleep_until_ms(double t) {
  double d = t - mono_ms();
  if (d <= 0) return;
  struct timespec ts;
  ts.tv_sec = (time_t)(d / 1e3);
  ts.tv_nsec = (long)((d - (double)ts.tv_sec * 1e3) * 1e6);
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

typedef struct Samples {
  double *v;
  size_t n, cap;
} Samples;

static void push(Samples *s, double x) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1024;
    s->v = realloc(s->v, s->cap * sizeof *s->v);
    if (!s->v) {
      fprintf(stderr, "sync_bench: out of memory\n");
      exit(1);
    }
  }
  s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/** `"name":{"n":..,"p50":..,"p99":..,"max":..,"mean":..}` in milliseconds; sorts the samples. */
static void print_stats(const char *name, Samples *s) {
  if (s->n == 0) {
    printf("\"%s\":{\"n\":0}", name);
    return;
  }
  qsort(s->v, s->n, sizeof *s->v, cmp_double);
  double sum = 0;
  for (size_t i = 0; i < s->n; i++) sum += s->v[i];
  size_t i99 = (size_t)((double)s->n * 0.99);
  if (i99 >= s->n) i99 = s->n - 1;
  printf("\"%s\":{\"n\":%zu,\"p50\":%.4f,\"p99\":%.4f,\"max\":%.4f,\"mean\":%.4f}", name, s->n, s->v[s->n / 2], s->v[i99], s->v[s->n - 1],
         sum / (double)s->n);
}

static const char *arg(int argc, char **argv, const char *name, const char *fallback) {
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], name) == 0) return i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 ? argv[i + 1] : "1";
  }
  return fallback;
}

static long arg_long(int argc, char **argv, const char *name, long fallback) {
  const char *v = arg(argc, argv, name, NULL);
  return v ? strtol(v, NULL, 10) : fallback;
}

#define CALL(expr, what)                                                                                   \
  do {                                                                                                     \
    SyncResult r_ = (expr);                                                                               \
    if (r_ != SYNC_RESULT_SUCCESS) {                                                                       \
      fprintf(stderr, "sync_bench: %s failed (%d): %s\n", (what), (int)r_, sync_last_error_message());     \
      exit(1);                                                                                             \
    }                                                                                                      \
  } while (0)

/* The same documents as bench/client/run.mjs and bench/native/ts-direct.mjs. */
static const char DESCRIPTION[] = "Write the quarterly report, collect the figures from every team and send it round before Friday.";

static void content_json(char *buf, size_t size, long i) {
  snprintf(buf, size,
           "{\"title\":\"Task %ld\",\"description\":\"%s\",\"status\":\"open\",\"priority\":%ld,\"tags\":[\"work\",\"report\"],\"done\":false}", i,
           DESCRIPTION, i % 5);
}

static void updated_json(char *buf, size_t size, long i, long j) {
  snprintf(buf, size,
           "{\"title\":\"Task %ld\",\"description\":\"%s\",\"status\":\"in-progress\",\"priority\":%ld,\"tags\":[\"work\",\"report\"],\"done\":false,"
           "\"counter\":%ld}",
           i, DESCRIPTION, i % 5, j);
}

typedef struct Server {
  const char *url, *email, *key, *secret;
} Server;

static Server server_args(int argc, char **argv, const char *default_email) {
  Server s;
  s.url = arg(argc, argv, "--server", "ws://127.0.0.1:9/ws");
  s.email = arg(argc, argv, "--email", default_email);
  /* Offline engines never send them, but they must have the form the server issues. */
  s.key = arg(argc, argv, "--key", "rpa_0000000000000000000000000000000000000000000000000000000000000000");
  s.secret = arg(argc, argv, "--secret", "rps_0000000000000000000000000000000000000000000000000000000000000000");
  return s;
}

static SyncEngineHandle *open_engine(const char *db, const Server *s, bool offline) {
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.reconnect_min_ms = 50;
  o.reconnect_max_ms = 500;
  o.call_timeout_ms = 30000;
  o.start_offline = offline;
  SyncEngineHandle *e = sync_engine_create_with_options(db, s->url, s->email, s->key, s->secret, &o);
  if (!e) {
    fprintf(stderr, "sync_bench: sync_engine_create_with_options(%s) failed: %s\n", db, sync_last_error_message());
    exit(1);
  }
  return e;
}

static char *path_in(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

/** VmRSS / VmHWM of this process in MB. */
static void read_rss(double *rss_mb, double *hwm_mb) {
  *rss_mb = *hwm_mb = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    long kb;
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) *rss_mb = (double)kb / 1024.0;
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) *hwm_mb = (double)kb / 1024.0;
  }
  fclose(f);
}

static void drain(SyncEngineHandle *e) {
  uint32_t n;
  do CALL(sync_engine_process_events(e, &n), "process_events");
  while (n > 0);
}

/* ---- ops: create / update throughput and latency ------------------------------------------------- */

static int mode_ops(int argc, char **argv) {
  const char *dir = arg(argc, argv, "--dir", NULL);
  long n = arg_long(argc, argv, "--count", 5000);
  long w = arg_long(argc, argv, "--warmup", 500);
  long drain_every = arg_long(argc, argv, "--drain-every", 100);
  bool online = arg(argc, argv, "--online", NULL) != NULL;
  if (!dir || n <= 0 || w < 0) {
    fprintf(stderr, "usage: sync_bench ops --dir D --count N [--warmup W] [--online --server ...]\n");
    return 2;
  }
  Server s = server_args(argc, argv, "bench-native-ops@example.com");
  char *db = path_in(dir, online ? "ops-online.db" : "ops-offline.db");
  double t_open = mono_ms();
  SyncEngineHandle *e = open_engine(db, &s, !online);
  t_open = mono_ms() - t_open;
  if (online) CALL(sync_engine_flush(e, 30000), "flush (connect)");

  char buf[512];
  char id[37];
  char(*ids)[37] = malloc((size_t)(n > w ? n : w) * sizeof *ids);
  /* Warm-up: untimed, same calls (JIT, SQLite page cache). */
  for (long i = 0; i < w; i++) {
    content_json(buf, sizeof buf, i);
    CALL(sync_engine_create_document(e, buf, ids[i]), "create_document (warm-up)");
  }
  for (long j = 0; j < w; j++) {
    updated_json(buf, sizeof buf, j, j);
    CALL(sync_engine_update_document(e, ids[j], buf), "update_document (warm-up)");
  }
  drain(e);
  if (online) CALL(sync_engine_flush(e, 60000), "flush (warm-up)");

  Samples cs = {0}, us = {0};
  double drain_ms = 0;
  double cpu0 = cpu_ms();
  long pre0 = preempted();
  double t0 = mono_ms();
  for (long i = 0; i < n; i++) {
    content_json(buf, sizeof buf, i);
    double t = mono_ms();
    CALL(sync_engine_create_document(e, buf, ids[i]), "create_document");
    push(&cs, mono_ms() - t);
    if (i % drain_every == drain_every - 1) {
      double td = mono_ms();
      drain(e);
      drain_ms += mono_ms() - td;
    }
  }
  double create_total = mono_ms() - t0;
  double create_cpu = cpu_ms() - cpu0;
  long create_pre = preempted() - pre0;
  uint64_t pending_after_creates = 0;
  CALL(sync_engine_count_pending(e, &pending_after_creates), "count_pending");
  cpu0 = cpu_ms();
  pre0 = preempted();
  t0 = mono_ms();
  for (long j = 0; j < n; j++) {
    updated_json(buf, sizeof buf, j, j + 1);
    double t = mono_ms();
    CALL(sync_engine_update_document(e, ids[j], buf), "update_document");
    push(&us, mono_ms() - t);
    if (j % drain_every == drain_every - 1) {
      double td = mono_ms();
      drain(e);
      drain_ms += mono_ms() - td;
    }
  }
  double update_total = mono_ms() - t0;
  double update_cpu = cpu_ms() - cpu0;
  long update_pre = preempted() - pre0;
  uint64_t pending = 0, count = 0;
  CALL(sync_engine_count_pending(e, &pending), "count_pending");
  CALL(sync_engine_count_documents(e, &count), "count_documents");
  if (count != (uint64_t)(n + w)) {
    fprintf(stderr, "sync_bench: %llu documents, expected %ld\n", (unsigned long long)count, n + w);
    return 1;
  }
  double synced_ms = -1;
  if (online) {
    double t = mono_ms();
    CALL(sync_engine_flush(e, 120000), "flush");
    synced_ms = mono_ms() - t;
  } else if (pending != (uint64_t)(2 * (n + w))) {
    fprintf(stderr, "sync_bench: offline outbox holds %llu, expected %ld\n", (unsigned long long)pending, 2 * (n + w));
    return 1;
  }
  (void)id;
  printf("{\"mode\":\"%s\",\"count\":%ld,\"open_ms\":%.3f,\"create_ops\":%.1f,\"update_ops\":%.1f,", online ? "online" : "offline", n, t_open,
         (double)n / (create_total / 1e3), (double)n / (update_total / 1e3));
  print_stats("create", &cs);
  printf(",");
  print_stats("update", &us);
  printf(",\"create_cpu_us\":%.2f,\"update_cpu_us\":%.2f,\"create_preempted\":%ld,\"update_preempted\":%ld", create_cpu * 1e3 / (double)n,
         update_cpu * 1e3 / (double)n, create_pre, update_pre);
  printf(",\"drain_ms\":%.3f,\"pending_after_creates\":%llu,\"pending_after_updates\":%llu,\"synced_ms\":%.1f}\n", drain_ms,
         (unsigned long long)pending_after_creates, (unsigned long long)pending, synced_ms);
  fflush(stdout);
  sync_engine_destroy(e);
  free(ids);
  free(db);
  free(cs.v);
  free(us.v);
  return 0;
}

/* ---- cold: start-up time and memory ------------------------------------------------------------ */

static int mode_cold(int argc, char **argv) {
  double t_main = mono_ms();
  double rss_main, hwm_main;
  read_rss(&rss_main, &hwm_main);
  const char *db = arg(argc, argv, "--db", NULL);
  long docs = arg_long(argc, argv, "--docs", 100);
  if (!db || docs < 1) {
    fprintf(stderr, "usage: sync_bench cold --db FILE --server URL --email E --key K --secret S\n");
    return 2;
  }
  Server s = server_args(argc, argv, "bench-native-cold@example.com");
  char buf[512];
  char id[37];
  content_json(buf, sizeof buf, 0);

  double t_before = mono_ms();
  SyncEngineHandle *e = sync_engine_create(db, s.url, s.email, s.key, s.secret); /* the seed's signature: connects in the background */
  if (!e) {
    fprintf(stderr, "sync_bench: sync_engine_create failed: %s\n", sync_last_error_message());
    return 1;
  }
  double t_created = mono_ms();
  CALL(sync_engine_create_document(e, buf, id), "create_document");
  double t_first = mono_ms();
  double first_real = real_ms();

  for (long i = 1; i < docs; i++) {
    content_json(buf, sizeof buf, i);
    CALL(sync_engine_create_document(e, buf, id), "create_document");
  }
  drain(e);
  double rss_docs, hwm_docs;
  read_rss(&rss_docs, &hwm_docs);
  double t_sync = mono_ms();
  SyncResult synced = sync_engine_flush(e, 15000);
  t_sync = mono_ms() - t_sync;
  drain(e);
  double rss_synced, hwm_synced;
  read_rss(&rss_synced, &hwm_synced);
  /* A second engine now that the runtime runs: separates runtime start-up from opening an engine. */
  size_t n2 = strlen(db) + 8;
  char *db2 = malloc(n2);
  snprintf(db2, n2, "%s.second", db);
  double t_second = mono_ms();
  SyncEngineHandle *e2 = sync_engine_create(db2, s.url, s.email, s.key, s.secret);
  if (!e2) {
    fprintf(stderr, "sync_bench: second sync_engine_create failed: %s\n", sync_last_error_message());
    return 1;
  }
  double t_second_created = mono_ms();
  CALL(sync_engine_create_document(e2, buf, id), "create_document");
  double t_second_first = mono_ms();
  sync_engine_destroy(e2);
  free(db2);
  printf("{\"mode\":\"cold\",\"second_create_ms\":%.3f,\"second_first_doc_ms\":%.3f,", t_second_created - t_second,
         t_second_first - t_second_created);
  printf("\"main_to_create_ms\":%.3f,\"create_ms\":%.3f,\"first_doc_ms\":%.3f,\"create_to_first_doc_ms\":%.3f,"
         "\"first_doc_real_ms\":%.3f,\"rss_main_mb\":%.1f,\"rss_docs_mb\":%.1f,\"hwm_docs_mb\":%.1f,\"rss_synced_mb\":%.1f,\"hwm_synced_mb\":%.1f,"
         "\"synced\":%s,\"sync_ms\":%.1f,\"docs\":%ld}\n",
         t_before - t_main, t_created - t_before, t_first - t_created, t_first - t_before, first_real, rss_main, rss_docs, hwm_docs, rss_synced,
         hwm_synced, synced == SYNC_RESULT_SUCCESS ? "true" : "false", t_sync, docs);
  fflush(stdout);
  sync_engine_destroy(e);
  return 0;
}

/* ---- reader: call latency while sync traffic runs ----------------------------------------------- */

typedef struct Seen {
  unsigned long long remote_changes; /* created/updated/deleted that started elsewhere */
} Seen;

static void on_event(const SyncEventData *e, void *context) {
  Seen *seen = context;
  if (e->event_type <= SYNC_EVENT_DOCUMENT_DELETED && !e->boolean_data) seen->remote_changes++;
}

/*
 * The baseline measured beside the calls: a round trip to another thread of this process and back
 * (condition variables), the least a call carried to the engine's thread can cost on this machine
 * right now — its scheduler, its load.
 */
typedef struct Handoff {
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int asked, answered;
  bool stop;
  pthread_t thread;
} Handoff;

static void *handoff_main(void *arg) {
  Handoff *h = arg;
  pthread_mutex_lock(&h->mutex);
  while (!h->stop) {
    if (h->answered < h->asked) {
      h->answered = h->asked;
      pthread_cond_broadcast(&h->cond);
    }
    pthread_cond_wait(&h->cond, &h->mutex);
  }
  pthread_mutex_unlock(&h->mutex);
  return NULL;
}

static void handoff_round_trip(Handoff *h) {
  pthread_mutex_lock(&h->mutex);
  h->asked++;
  pthread_cond_broadcast(&h->cond);
  while (h->answered < h->asked) pthread_cond_wait(&h->cond, &h->mutex);
  pthread_mutex_unlock(&h->mutex);
}

typedef struct Window {
  Samples get, count, connected, create, update, events, handoff;
  unsigned long long remote_a, remote_b;
  double ms;
} Window;

static void free_window(Window *w) {
  Samples *all[] = {&w->get, &w->count, &w->connected, &w->create, &w->update, &w->events, &w->handoff};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]->v);
}

/** Times one call into `s`. */
#define TIMED(s, expr, what)            \
  do {                                  \
    double t_ = mono_ms();              \
    CALL((expr), (what));               \
    push((s), mono_ms() - t_);          \
  } while (0)

/** Paced calls on A for `duration` ms: three reads and one write (create and update by turns); process_events on A and B every 10 ms. */
static void measure(SyncEngineHandle *a, SyncEngineHandle *b, Seen *seen_a, Seen *seen_b, char (*ids)[37], long nids, double duration, double interval,
                    long *seq, Handoff *handoff, Window *w) {
  char buf[512], id[37];
  unsigned long long ra = seen_a->remote_changes, rb = seen_b->remote_changes;
  double start = mono_ms(), next = start, last_events = start;
  long k = 0;
  while (mono_ms() - start < duration) {
    char *json = NULL;
    uint64_t count;
    bool connected;
    TIMED(&w->get, sync_engine_get_document(a, ids[k % nids], &json), "get_document");
    sync_string_free(json);
    TIMED(&w->count, sync_engine_count_documents(a, &count), "count_documents");
    TIMED(&w->connected, sync_engine_is_connected(a, &connected), "is_connected");
    if (k % 2 == 0) {
      content_json(buf, sizeof buf, (*seq)++);
      TIMED(&w->create, sync_engine_create_document(a, buf, id), "create_document");
    } else {
      updated_json(buf, sizeof buf, k % nids, k);
      TIMED(&w->update, sync_engine_update_document(a, ids[k % nids], buf), "update_document");
    }
    double t = mono_ms();
    handoff_round_trip(handoff);
    push(&w->handoff, mono_ms() - t);
    k++;
    if (mono_ms() - last_events >= 10) {
      uint32_t n;
      TIMED(&w->events, sync_engine_process_events(a, &n), "process_events");
      TIMED(&w->events, sync_engine_process_events(b, &n), "process_events");
      last_events = mono_ms();
    }
    next += interval;
    double now = mono_ms();
    if (next < now) next = now; /* behind: no burst to catch up */
    sleep_until_ms(next);
  }
  w->ms = mono_ms() - start;
  drain(a);
  drain(b);
  w->remote_a = seen_a->remote_changes - ra;
  w->remote_b = seen_b->remote_changes - rb;
}

static void print_window(const char *name, Window *w) {
  printf("{\"window\":\"%s\",\"ms\":%.1f,\"remote_a\":%llu,\"remote_b\":%llu,", name, w->ms, w->remote_a, w->remote_b);
  const char *names[] = {"get", "count", "connected", "create", "update", "events", "handoff"};
  Samples *all[] = {&w->get, &w->count, &w->connected, &w->create, &w->update, &w->events, &w->handoff};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    if (i) printf(",");
    print_stats(names[i], all[i]);
  }
  printf("}\n");
  fflush(stdout);
}

static int mode_reader(int argc, char **argv) {
  const char *dir = arg(argc, argv, "--dir", NULL);
  double interval = (double)arg_long(argc, argv, "--interval-us", 2000) / 1e3;
  long nids = arg_long(argc, argv, "--docs", 100);
  Server sa = server_args(argc, argv, "bench-native-a@example.com");
  Server sb = sa;
  sb.email = arg(argc, argv, "--email-b", "bench-native-b@example.com");
  if (!dir || nids < 1) {
    fprintf(stderr, "usage: sync_bench reader --dir D --server URL --email A --email-b B --key K --secret S\n");
    return 2;
  }
  char *db_a = path_in(dir, "reader-a.db"), *db_b = path_in(dir, "reader-b.db");
  SyncEngineHandle *a = open_engine(db_a, &sa, false);
  SyncEngineHandle *b = open_engine(db_b, &sb, false);
  Seen seen_a = {0}, seen_b = {0};
  CALL(sync_engine_register_event_callback(a, on_event, &seen_a, -1), "register_event_callback");
  CALL(sync_engine_register_event_callback(b, on_event, &seen_b, -1), "register_event_callback");
  char(*ids)[37] = malloc((size_t)nids * sizeof *ids);
  char buf[512];
  long seq = 0;
  for (long i = 0; i < nids; i++) {
    content_json(buf, sizeof buf, seq++);
    CALL(sync_engine_create_document(a, buf, ids[i]), "create_document");
  }
  CALL(sync_engine_flush(a, 30000), "flush A");
  CALL(sync_engine_flush(b, 30000), "flush B");
  drain(a);
  drain(b);
  Handoff handoff = {.asked = 0};
  pthread_mutex_init(&handoff.mutex, NULL);
  pthread_cond_init(&handoff.cond, NULL);
  pthread_create(&handoff.thread, NULL, handoff_main, &handoff);

  printf("READY\n");
  fflush(stdout);
  char line[256], name[64];
  long ms;
  while (fgets(line, sizeof line, stdin) && sscanf(line, "WINDOW %63s %ld", name, &ms) == 2) {
    Window w = {0};
    measure(a, b, &seen_a, &seen_b, ids, nids, (double)ms, interval, &seq, &handoff, &w);
    print_window(name, &w);
    free_window(&w);
  }
  pthread_mutex_lock(&handoff.mutex);
  handoff.stop = true;
  pthread_cond_broadcast(&handoff.cond);
  pthread_mutex_unlock(&handoff.mutex);
  pthread_join(handoff.thread, NULL);
  sync_engine_destroy(a);
  sync_engine_destroy(b);
  free(ids);
  free(db_a);
  free(db_b);
  return 0;
}

/* ---- reads: get_document latency, on a plain or an encrypted database --------------------------- */

/** `--encryption-key HEX` (64 hex digits) into key; false when absent. */
static bool key_arg(int argc, char **argv, uint8_t key[32]) {
  const char *hex = arg(argc, argv, "--encryption-key", NULL);
  if (!hex) return false;
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
      fprintf(stderr, "sync_bench: --encryption-key takes 64 hex digits\n");
      exit(2);
    }
    key[i] = (uint8_t)v;
  }
  return true;
}

static int mode_reads(int argc, char **argv) {
  const char *db = arg(argc, argv, "--db", NULL);
  long docs = arg_long(argc, argv, "--docs", 2000);
  long n = arg_long(argc, argv, "--count", 20000);
  if (!db || docs <= 0 || n <= 0) {
    fprintf(stderr, "usage: sync_bench reads --db FILE [--docs N] [--count N] [--encryption-key HEX]\n");
    return 2;
  }
  uint8_t key[32];
  bool keyed = key_arg(argc, argv, key);
  Server s = server_args(argc, argv, "bench-native-reads@example.com");
  SyncEngineConfig c;
  sync_engine_config_init(&c);
  c.database_url = db;
  c.server_url = s.url;
  c.email = s.email;
  c.api_key = s.key;
  c.api_secret = s.secret;
  c.start_offline = true;
  c.call_timeout_ms = 30000;
  c.encryption_key = keyed ? key : NULL;
  c.encryption_key_length = keyed ? 32 : 0;
  double t_open = mono_ms();
  SyncEngineHandle *e = NULL;
  CALL(sync_engine_open(&c, &e), "sync_engine_open");
  t_open = mono_ms() - t_open;
  char buf[512];
  char(*ids)[37] = malloc((size_t)docs * sizeof *ids);
  for (long i = 0; i < docs; i++) {
    content_json(buf, sizeof buf, i);
    CALL(sync_engine_create_document(e, buf, ids[i]), "create_document");
  }
  Samples gs = {0};
  /* Warm-up: the reads' connections, SQLite's page cache. */
  for (long i = 0; i < n / 10; i++) {
    char *json = NULL;
    CALL(sync_engine_get_document(e, ids[(i * 7919) % docs], &json), "get_document (warm-up)");
    sync_string_free(json);
  }
  for (long i = 0; i < n; i++) {
    char *json = NULL;
    double t = mono_ms();
    CALL(sync_engine_get_document(e, ids[(i * 7919) % docs], &json), "get_document");
    push(&gs, mono_ms() - t);
    sync_string_free(json);
  }
  printf("{\"mode\":\"reads\",\"encrypted\":%s,\"open_ms\":%.3f,", keyed ? "true" : "false", t_open);
  print_stats("get", &gs);
  printf("}\n");
  fflush(stdout);
  sync_engine_destroy(e);
  free(ids);
  return 0;
}

/* ---- queries ----------------------------------------------------------------------------- */

static const char *const SYLLABLES[] = {"syn", "pad", "ba", "dru", "vo", "mix", "mas", "te", "pre", "set", "re", "verb",
                                        "del", "cho", "rus", "ta", "war", "ki", "lo", "mu", "na", "po", "zi", "ex"};

/** One of 3,000 made-up words, as text has. */
static void word(char *out, size_t size, long k) {
  long i = k % 3000;
  snprintf(out, size, "%s%s%s", SYLLABLES[i % 24], SYLLABLES[(i / 24) % 24], i >= 576 ? SYLLABLES[(i / 576) % 24] : "");
}

/** A task-like document: status, priority, tags, title, ~200 characters of description, nested numbers. */
static void task_json(char *buf, size_t size, long i) {
  char w[8][16];
  for (int k = 0; k < 8; k++) word(w[k], sizeof w[k], i * 7919 + k * 104729 + (i * k) % 997);
  static const char *const STATUS[] = {"open", "done", "waiting"}, *const PRIORITY[] = {"low", "medium", "high"};
  char description[256] = "";
  for (int k = 0; strlen(description) < 190; k++) {
    char x[16];
    word(x, sizeof x, i * 31 + k * 7);
    strcat(description, x);
    strcat(description, " ");
  }
  snprintf(buf, size,
           "{\"title\":\"%s %s %ld\",\"status\":\"%s\",\"priority\":\"%s\",\"tags\":[\"%s\",\"%s\"],\"description\":\"%s\","
           "\"meta\":{\"bpm\":%ld,\"bars\":%ld},\"updated\":%ld}",
           w[0], w[1], i, STATUS[i % 3], PRIORITY[(i * 7) % 3], w[2], w[3], description, 60 + i % 120, i % 64, 1700000000L + i);
}

static const struct {
  const char *name;
  const char *query;
} QUERIES[] = {
    {"indexed", "{\"where\":{\"status\":\"open\"},\"sort\":[{\"updated\":\"desc\"}],\"limit\":50}"},
    {"scan", "{\"where\":{\"meta.bpm\":{\"$gte\":170}},\"count\":true}"},
    /* Two words as a search box sends them, the last a prefix: a selective search (search_count says how many match). */
    {"search", "{\"search\":\"synpadpad pozi*\",\"limit\":20}"},
    {"search_count", "{\"search\":\"synpadpad pozi*\",\"count\":true}"},
};

static int mode_queries(int argc, char **argv) {
  const char *dir = arg(argc, argv, "--dir", NULL);
  long docs = arg_long(argc, argv, "--docs", 100000);
  long runs = arg_long(argc, argv, "--runs", 500);
  if (!dir || docs <= 0 || runs <= 0) {
    fprintf(stderr, "usage: sync_bench queries --dir D [--docs N] [--runs R]\n");
    return 2;
  }
  Server s = server_args(argc, argv, "bench-native-queries@example.com");
  char *db = path_in(dir, "queries.db");
  SyncEngineHandle *e = open_engine(db, &s, true);
  size_t size = 1000 * 512 + 16;
  char *batch = malloc(size);
  for (long done = 0; done < docs;) {
    size_t used = (size_t)snprintf(batch, size, "[");
    for (long k = 0; k < 1000 && done < docs; k++, done++) {
      batch[used++] = k ? ',' : ' ';
      task_json(batch + used, size - used, done);
      used += strlen(batch + used);
    }
    snprintf(batch + used, size - used, "]");
    char *ids = NULL;
    CALL(sync_engine_create_documents(e, batch, &ids), "create_documents");
    sync_string_free(ids);
  }
  free(batch);
  CALL(sync_engine_create_index(e, "{\"name\":\"by_status\",\"fields\":[\"status\",\"updated\"]}"), "create_index");
  CALL(sync_engine_create_index(e, "{\"name\":\"by_priority\",\"fields\":[\"priority\"]}"), "create_index");
  CALL(sync_engine_create_text_index(e, "{\"name\":\"text\",\"fields\":[\"title\",\"description\"]}"), "create_text_index");
  printf("{\"docs\":%ld,\"db\":\"%s\",\"queries\":{", docs, db);
  for (size_t q = 0; q < sizeof QUERIES / sizeof QUERIES[0]; q++) {
    char *json = NULL;
    for (int i = 0; i < 5; i++) {
      CALL(sync_engine_query(e, QUERIES[q].query, &json), QUERIES[q].name);
      sync_string_free(json);
    }
    Samples t = {0};
    /* A scan reads every document: fewer runs. */
    long n = strcmp(QUERIES[q].name, "scan") == 0 ? runs / 10 + 1 : runs;
    size_t bytes = 0;
    for (long i = 0; i < n; i++) {
      double t0 = mono_ms();
      CALL(sync_engine_query(e, QUERIES[q].query, &json), QUERIES[q].name);
      push(&t, mono_ms() - t0);
      bytes = strlen(json);
      sync_string_free(json);
    }
    char *plan = NULL;
    CALL(sync_engine_explain_query(e, QUERIES[q].query, &plan), "explain_query");
    printf("%s\"%s\":{\"bytes\":%zu,\"explain\":%s,", q ? "," : "", QUERIES[q].name, bytes, plan);
    print_stats("c", &t);
    printf("}");
    sync_string_free(plan);
    free(t.v);
  }
  printf("}}\n");
  sync_engine_destroy(e);
  free(db);
  return 0;
}

/* ---- live: a remote change's diff beside its event -------------------------------------------- */

typedef struct Probe {
  char id[SYNC_DOCUMENT_ID_SIZE];
  double event_ms, diff_ms;
} Probe;

static void on_probe_event(const SyncEventData *event, void *context) {
  Probe *p = context;
  if (event->document_id && strcmp(event->document_id, p->id) == 0 && p->event_ms == 0) p->event_ms = mono_ms();
}

static void on_probe_diff(const char *diff, void *context) {
  Probe *p = context;
  if (p->id[0] && strstr(diff, p->id) && p->diff_ms == 0) p->diff_ms = mono_ms();
}

static int mode_live(int argc, char **argv) {
  const char *dir = arg(argc, argv, "--dir", NULL);
  long count = arg_long(argc, argv, "--count", 200);
  if (!dir || count <= 0) {
    fprintf(stderr, "usage: sync_bench live --dir D --server URL --email E --key K --secret S [--count N]\n");
    return 2;
  }
  Server s = server_args(argc, argv, "bench-native-live@example.com");
  char *db_a = path_in(dir, "live-a.db"), *db_b = path_in(dir, "live-b.db");
  SyncEngineHandle *a = open_engine(db_a, &s, false), *b = open_engine(db_b, &s, false);
  CALL(sync_engine_flush(a, 30000), "flush A");
  CALL(sync_engine_flush(b, 30000), "flush B");
  Probe probe;
  memset(&probe, 0, sizeof probe);
  SyncLiveQuery *live = NULL;
  CALL(sync_engine_add_listener(a, SYNC_EVENT_DOCUMENT_CREATED, on_probe_event, &probe, NULL), "add_listener");
  CALL(sync_engine_watch_query(a, "{\"where\":{\"kind\":\"probe\"}}", 0, on_probe_diff, &probe, &live), "watch_query");
  Samples end_to_end = {0}, diff_after = {0};
  char json[64];
  for (long i = 0; i < count; i++) {
    drain(a);
    drain(b);
    memset(&probe, 0, sizeof probe);
    snprintf(json, sizeof json, "{\"kind\":\"probe\",\"n\":%ld}", i);
    char id[SYNC_DOCUMENT_ID_SIZE];
    CALL(sync_engine_create_document(b, json, id), "create_document (B)");
    double sent = mono_ms();
    memcpy(probe.id, id, sizeof id);
    while ((probe.event_ms == 0 || probe.diff_ms == 0) && mono_ms() - sent < 10000) {
      CALL(sync_engine_process_events(a, NULL), "process_events (A)");
      sleep_until_ms(mono_ms() + 0.1);
    }
    if (probe.event_ms == 0 || probe.diff_ms == 0) {
      fprintf(stderr, "sync_bench: probe %ld reached A's %s within 10 s\n", i, probe.event_ms == 0 ? "listener never" : "live query never");
      return 1;
    }
    push(&end_to_end, probe.event_ms - sent);
    push(&diff_after, probe.diff_ms - probe.event_ms);
  }
  printf("{");
  print_stats("end_to_end", &end_to_end);
  printf(",");
  print_stats("diff_after_event", &diff_after);
  printf("}\n");
  sync_live_query_close(live);
  sync_engine_destroy(a);
  sync_engine_destroy(b);
  free(db_a);
  free(db_b);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "reads") == 0) return mode_reads(argc, argv);
  if (strcmp(mode, "ops") == 0) return mode_ops(argc, argv);
  if (strcmp(mode, "cold") == 0) return mode_cold(argc, argv);
  if (strcmp(mode, "reader") == 0) return mode_reader(argc, argv);
  if (strcmp(mode, "queries") == 0) return mode_queries(argc, argv);
  if (strcmp(mode, "live") == 0) return mode_live(argc, argv);
  fprintf(stderr, "usage: sync_bench ops|cold|reader|reads|queries|live [options] (see bench/native/bench.c)\n");
  return 2;
}
