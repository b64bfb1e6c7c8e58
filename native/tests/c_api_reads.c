/* Reads on the caller's thread while the engine works on the same file. Four reader threads call
 * get_document, get_all_documents, count_documents, count_pending and is_connected on engine A in
 * a loop, while a writer thread writes to A — reading each write back at once (read-your-writes) —
 * and to engine B of the same user, whose changes A applies from the server's stream. The writes
 * come in bursts with pauses longer than the engine's idle checkpoint delay (250 ms), so WAL
 * checkpoints run among the reads (seen as the WAL file shrinking). No read may fail; every read is
 * whole; the count never goes backwards (nothing is deleted); at the end A's and B's counts match
 * their documents and each other. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define READERS 4
#define SEEDED 50
#define ROUNDS 6
#define WRITES_PER_BURST 40
#define PAUSE_MS 600

static SyncEngineHandle *a, *b;
static char seeded[SEEDED][37];
static atomic_bool stop;

typedef struct Reader {
  int index;
  long reads;
  int failures;
  char first_failure[256];
} Reader;

static void reader_failed(Reader *r, const char *what) {
  if (r->failures++ == 0) snprintf(r->first_failure, sizeof r->first_failure, "%s: %s", what, sync_last_error_message());
}

static void *reader(void *arg) {
  Reader *r = arg;
  uint64_t last_count = 0;
  for (long i = 0; !atomic_load(&stop); i++) {
    const char *id = seeded[(i * 7 + r->index) % SEEDED];
    char *json = NULL;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "{\"id\":\"%s\",", id);
    if (sync_engine_get_document(a, id, &json) != SYNC_RESULT_SUCCESS || !json || strncmp(json, prefix, strlen(prefix)) != 0 ||
        json[strlen(json) - 1] != '}')
      reader_failed(r, "get_document");
    sync_string_free(json);
    uint64_t count = 0, pending = 0;
    bool connected = false;
    if (sync_engine_count_documents(a, &count) != SYNC_RESULT_SUCCESS || count < last_count || count < SEEDED) reader_failed(r, "count_documents");
    last_count = count;
    if (sync_engine_count_pending(a, &pending) != SYNC_RESULT_SUCCESS) reader_failed(r, "count_pending");
    if (sync_engine_is_connected(a, &connected) != SYNC_RESULT_SUCCESS) reader_failed(r, "is_connected");
    if (i % 25 == 0) {
      char *all = NULL;
      if (sync_engine_get_all_documents(a, &all) != SYNC_RESULT_SUCCESS || !all || all[0] != '[' || all[strlen(all) - 1] != ']' ||
          test_count_occurrences(all, "{\"id\":\"") < SEEDED || test_count_occurrences(all, "{\"id\":\"") != test_count_occurrences(all, "\"deleted_at\":null}"))
        reader_failed(r, "get_all_documents");
      sync_string_free(all);
    }
    r->reads += 5;
  }
  return NULL;
}

typedef struct Writer {
  int written;
  int failures;
  char first_failure[256];
  long wal_max, wal_shrunk;
} Writer;

static void writer_failed(Writer *w, const char *what) {
  if (w->failures++ == 0) snprintf(w->first_failure, sizeof w->first_failure, "%s: %s", what, sync_last_error_message());
}

static long wal_size(const char *db) {
  char wal[600];
  snprintf(wal, sizeof wal, "%s-wal", db);
  struct stat st;
  return stat(wal, &st) == 0 ? (long)st.st_size : 0;
}

/** Writes bursts to A (each read back at once) and B, pausing between them; notes the WAL shrinking after a pause. */
static void *writer(void *arg) {
  Writer *w = arg;
  const char *db = test_db_path("reads_a");
  for (int round = 0; round < ROUNDS; round++) {
    long before = wal_size(db);
    for (int k = 0; k < WRITES_PER_BURST; k++) {
      char json[128], id[37], fragment[64];
      int n = round * WRITES_PER_BURST + k;
      snprintf(json, sizeof json, "{\"title\":\"w%d\",\"n\":%d}", n, n);
      if (sync_engine_create_document(a, json, id) != SYNC_RESULT_SUCCESS) writer_failed(w, "create on A");
      char *back = NULL;
      snprintf(fragment, sizeof fragment, "\"n\":%d}", n);
      if (sync_engine_get_document(a, id, &back) != SYNC_RESULT_SUCCESS || !back || !strstr(back, fragment)) writer_failed(w, "read-your-write of a create");
      sync_string_free(back);
      const char *target = seeded[n % SEEDED];
      snprintf(json, sizeof json, "{\"title\":\"seed\",\"v\":%d}", n);
      snprintf(fragment, sizeof fragment, "\"v\":%d}", n);
      if (sync_engine_update_document(a, target, json) != SYNC_RESULT_SUCCESS) writer_failed(w, "update on A");
      if (sync_engine_get_document(a, target, &back) != SYNC_RESULT_SUCCESS || !back || !strstr(back, fragment)) writer_failed(w, "read-your-write of an update");
      sync_string_free(back);
      snprintf(json, sizeof json, "{\"title\":\"b%d\",\"n\":%d}", n, n);
      if (sync_engine_create_document(b, json, id) != SYNC_RESULT_SUCCESS) writer_failed(w, "create on B");
      w->written += 2;
    }
    long after_burst = wal_size(db);
    if (after_burst > w->wal_max) w->wal_max = after_burst;
    /* A WAL smaller than before this burst, though the burst wrote more: it was checkpointed and restarted. */
    if (round > 0 && after_burst < before) w->wal_shrunk++;
    usleep(PAUSE_MS * 1000);
  }
  return NULL;
}

static int documents_listed(SyncEngineHandle *e) {
  char *all = NULL;
  CHECK(sync_engine_get_all_documents(e, &all) == SYNC_RESULT_SUCCESS);
  int n = all ? test_count_occurrences(all, "{\"id\":\"") : -1;
  sync_string_free(all);
  return n;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  char email[128];
  test_unique_email(email, sizeof email, "reads");
  a = test_engine(&env, "reads_a", email);
  b = test_engine(&env, "reads_b", email);
  REQUIRE(a && b);
  CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_flush(b, 20000) == SYNC_RESULT_SUCCESS);
  for (int i = 0; i < SEEDED; i++) {
    char json[64];
    snprintf(json, sizeof json, "{\"title\":\"seed\",\"v\":%d}", -i);
    REQUIRE(sync_engine_create_document(a, json, seeded[i]) == SYNC_RESULT_SUCCESS);
  }

  Reader readers[READERS];
  pthread_t threads[READERS], writing;
  Writer w = {0};
  for (int i = 0; i < READERS; i++) {
    readers[i] = (Reader){.index = i};
    REQUIRE(pthread_create(&threads[i], NULL, reader, &readers[i]) == 0);
  }
  double t0 = test_now_ms();
  REQUIRE(pthread_create(&writing, NULL, writer, &w) == 0);
  pthread_join(writing, NULL);
  atomic_store(&stop, true);
  long reads = 0;
  for (int i = 0; i < READERS; i++) {
    pthread_join(threads[i], NULL);
    reads += readers[i].reads;
    if (readers[i].failures) fprintf(stderr, "reader %d: %d failed reads, the first %s\n", i, readers[i].failures, readers[i].first_failure);
    CHECK(readers[i].failures == 0);
  }
  if (w.failures) fprintf(stderr, "writer: %d failures, the first %s\n", w.failures, w.first_failure);
  CHECK(w.failures == 0);
  printf("c_api_reads: %ld reads by %d threads during %d writes in %.1f s; A's WAL reached %ld KiB and was checkpointed and restarted %ld times\n", reads,
         READERS, w.written, (test_now_ms() - t0) / 1000, w.wal_max / 1024, w.wal_shrunk);
  CHECK(reads > 1000);
  CHECK(w.wal_shrunk >= 1);

  /* Settled: the counts match the documents, on both engines, and nothing is left pending. */
  CHECK(sync_engine_flush(b, 30000) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_flush(a, 30000) == SYNC_RESULT_SUCCESS);
  uint64_t expected = SEEDED + 2 * ROUNDS * WRITES_PER_BURST;
  CHECK(test_count_documents(a) == expected);
  CHECK(documents_listed(a) == (int)expected);
  CHECK(sync_engine_flush(b, 30000) == SYNC_RESULT_SUCCESS);
  CHECK(test_count_documents(b) == expected);
  CHECK(documents_listed(b) == (int)expected);
  uint64_t pending = 1;
  bool connected = false;
  CHECK(sync_engine_count_pending(a, &pending) == SYNC_RESULT_SUCCESS && pending == 0);
  CHECK(sync_engine_is_connected(a, &connected) == SYNC_RESULT_SUCCESS && connected);

  sync_engine_destroy(b);
  sync_engine_destroy(a);
  return test_finish("c_api_reads");
}
