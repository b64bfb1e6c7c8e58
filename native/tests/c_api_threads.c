/* 8 threads each create 500 documents at once through the C API on one engine (online, so sync
 * traffic runs meanwhile): 4000 distinct ids, count_documents == 4000. Prints the p50/p99 latency
 * of the calls (not asserted: the machine is shared). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define THREADS 8
#define PER_THREAD 500
#define TOTAL (THREADS * PER_THREAD)

static SyncEngineHandle *engine;
static char ids[TOTAL][37];
static double latency_ms[TOTAL];
static pthread_barrier_t start_line;

typedef struct Worker {
  int index;
  int failures;
  char first_error[256];
} Worker;

static void *worker(void *arg) {
  Worker *w = arg;
  pthread_barrier_wait(&start_line);
  for (int i = 0; i < PER_THREAD; i++) {
    int slot = w->index * PER_THREAD + i;
    char json[128];
    snprintf(json, sizeof json, "{\"title\":\"t%d-%d\",\"thread\":%d,\"i\":%d}", w->index, i, w->index, i);
    double t0 = test_now_ms();
    SyncResult r = sync_engine_create_document(engine, json, ids[slot]);
    latency_ms[slot] = test_now_ms() - t0;
    if (r != SYNC_RESULT_SUCCESS) {
      if (w->failures++ == 0) snprintf(w->first_error, sizeof w->first_error, "%d: %s", (int)r, sync_last_error_message());
    }
  }
  return NULL;
}

static int compare_ids(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  char email[128];
  test_unique_email(email, sizeof email, "threads");
  engine = test_engine(&env, "threads", email);
  REQUIRE(engine != NULL);
  CHECK(sync_engine_flush(engine, 20000) == SYNC_RESULT_SUCCESS);

  pthread_barrier_init(&start_line, NULL, THREADS);
  pthread_t threads[THREADS];
  Worker workers[THREADS];
  double t0 = test_now_ms();
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (Worker){.index = t};
    REQUIRE(pthread_create(&threads[t], NULL, worker, &workers[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
  double elapsed = test_now_ms() - t0;
  pthread_barrier_destroy(&start_line);

  for (int t = 0; t < THREADS; t++) {
    CHECK(workers[t].failures == 0);
    if (workers[t].failures) fprintf(stderr, "thread %d: %d failures, first %s\n", t, workers[t].failures, workers[t].first_error);
  }

  /* 4000 distinct, well-formed ids. */
  int malformed = 0;
  for (int i = 0; i < TOTAL; i++) {
    if (strlen(ids[i]) != 36) malformed++;
  }
  CHECK(malformed == 0);
  qsort(ids, TOTAL, sizeof ids[0], compare_ids);
  int duplicates = 0;
  for (int i = 1; i < TOTAL; i++) {
    if (strcmp(ids[i - 1], ids[i]) == 0) duplicates++;
  }
  CHECK(duplicates == 0);

  uint64_t count = 0;
  CHECK(sync_engine_count_documents(engine, &count) == SYNC_RESULT_SUCCESS);
  CHECK(count == TOTAL);

  /* Each document is readable with its own content. */
  {
    char *json = NULL;
    CHECK(sync_engine_get_document(engine, ids[TOTAL / 2], &json) == SYNC_RESULT_SUCCESS);
    CHECK(json && strstr(json, "\"thread\":") != NULL);
    sync_string_free(json);
  }

  qsort(latency_ms, TOTAL, sizeof latency_ms[0], compare_doubles);
  printf("%d creates from %d threads in %.0f ms (%.0f/s); call latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", TOTAL, THREADS, elapsed,
         TOTAL / (elapsed / 1000.0), latency_ms[TOTAL / 2], latency_ms[(TOTAL * 99) / 100], latency_ms[TOTAL - 1]);

  /* The server gets them all too (not the point of this test, but the engine must stay sound under load). */
  CHECK(sync_engine_flush(engine, 60000) == SYNC_RESULT_SUCCESS);
  uint64_t pending = 1;
  CHECK(sync_engine_count_pending(engine, &pending) == SYNC_RESULT_SUCCESS && pending == 0);
  printf("all %d on the server after %.0f ms\n", TOTAL, test_now_ms() - t0);

  sync_engine_destroy(engine);
  return test_finish("c_api_threads");
}
