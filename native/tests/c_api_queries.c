/* Queries from C (docs/queries.md): answered on the calling thread, the same with and without an
 * index, paged by cursor, through a dropped index, with $regex (the engine's thread), full-text
 * search, the time limit, bad input; live queries delivered inside process_events on the calling
 * thread — a diff per commit, totals, a live query closed inside its own callback, 200 open at once;
 * queries from other threads while the engine writes. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"

#define DOCS 400
static const char *const STATUSES[] = {"open", "done", "archived"};

static SyncEngineHandle *engine;

/** The number after `"key":` in json, or -1. */
static long number_after(const char *json, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *at = json ? strstr(json, pattern) : NULL;
  return at ? strtol(at + strlen(pattern), NULL, 10) : -1;
}

/** The query's answer (CHECKed success), owned by the caller. */
static char *query(const char *q) {
  char *json = NULL;
  SyncResult r = sync_engine_query(engine, q, &json);
  if (r != SYNC_RESULT_SUCCESS) fprintf(stderr, "query %s: %d %s\n", q, r, sync_last_error_message());
  CHECK(r == SYNC_RESULT_SUCCESS && json != NULL);
  return json;
}

static long count_of(const char *where) {
  char q[512];
  snprintf(q, sizeof q, "{\"where\":%s,\"count\":true}", where);
  char *json = query(q);
  long n = number_after(json, "count");
  sync_string_free(json);
  return n;
}

/* ---- live queries ---- */

typedef struct Watch {
  int calls;
  long total;
  int added;
  int removed;
  pthread_t thread;
  bool wrong_thread;
  SyncLiveQuery *self;
  int close_on_call; /* close inside the callback on this call (0: never) */
} Watch;

static void on_diff(const char *diff, void *context) {
  Watch *w = context;
  w->calls++;
  if (!pthread_equal(pthread_self(), w->thread)) w->wrong_thread = true;
  w->total = number_after(diff, "total");
  /* Members in the order QueryDiff has them: added, removed, changed, moved; documents hold no "index". */
  w->added += test_count_occurrences(diff, "\"index\":") - test_count_occurrences(strstr(diff, "\"moved\":"), "\"index\":");
  const char *removed = strstr(diff, "\"removed\":[");
  int quotes = 0;
  for (const char *c = removed ? removed + 11 : ""; *c && *c != ']'; c++) quotes += *c == '"';
  w->removed += quotes / 2;
  if (w->close_on_call == w->calls) {
    sync_live_query_close(w->self);
    w->self = NULL;
  }
}

static bool watch_called(void *context) { return ((Watch *)context)->calls > 0; }

typedef struct Calls {
  Watch *w;
  int at_least;
} Calls;
static bool watch_reached(void *context) {
  Calls *c = context;
  return c->w->calls >= c->at_least;
}

/* ---- threads ---- */

static atomic_bool stop;
static atomic_int thread_failures;

static void *query_loop(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    char *json = NULL;
    if (sync_engine_query(engine, "{\"where\":{\"status\":\"open\"},\"sort\":[{\"n\":\"desc\"}],\"limit\":10}", &json) != SYNC_RESULT_SUCCESS ||
        strncmp(json, "{\"documents\":[", 14) != 0)
      atomic_fetch_add(&thread_failures, 1);
    sync_string_free(json);
  }
  return NULL;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  char email[128];
  test_unique_email(email, sizeof email, "queries");
  SyncEngineConfig config;
  test_config(&config, &env, "queries.db", email);
  config.start_offline = true; /* queries answer from the local database alone */
  REQUIRE(sync_engine_open(&config, &engine) == SYNC_RESULT_SUCCESS);

  /* DOCS documents: status cycles, n = i, tags hold "even" or "odd", a title to search. */
  size_t size = DOCS * 160 + 16;
  char *batch = malloc(size);
  size_t used = (size_t)snprintf(batch, size, "[");
  for (int i = 0; i < DOCS; i++) {
    used += (size_t)snprintf(batch + used, size - used, "%s{\"title\":\"%s synth %d\",\"status\":\"%s\",\"n\":%d,\"tags\":[\"%s\",\"t%d\"]}",
                             i ? "," : "", i % 7 == 0 ? "Émile" : "plain", i, STATUSES[i % 3], i, i % 2 ? "odd" : "even", i % 5);
  }
  snprintf(batch + used, size - used, "]");
  char *ids = NULL;
  REQUIRE(sync_engine_create_documents(engine, batch, &ids) == SYNC_RESULT_SUCCESS);
  sync_string_free(ids);
  free(batch);

  /* Counts and filters, as the reference semantics give them. */
  CHECK(count_of("{\"status\":\"open\"}") == (DOCS + 2) / 3);
  CHECK(count_of("{\"n\":{\"$gte\":100,\"$lt\":200}}") == 100);
  CHECK(count_of("{\"tags\":\"even\",\"status\":{\"$in\":[\"open\",\"done\"]}}") == 133);
  CHECK(count_of("{\"missing\":{\"$exists\":true}}") == 0);

  /* A page: sorted, limited, the cursor of the next; all pages together hold every match once. */
  const char *sorted = "{\"where\":{\"status\":\"open\"},\"sort\":[{\"n\":\"desc\"}],\"limit\":50}";
  char *first = query(sorted);
  CHECK(test_count_occurrences(first, "\"status\":\"open\"") == 50);
  CHECK(strstr(first, "\"n\":399") != NULL && strstr(first, "\"n\":396") != NULL);
  int seen = 0;
  char *page = first;
  for (int pages = 0; page && pages < 10; pages++) {
    seen += test_count_occurrences(page, "\"status\":\"open\"");
    const char *next = strstr(page, "\"next\":\"");
    char *following = NULL;
    if (next) {
      char q[1024];
      int len = (int)(strchr(next + 8, '"') - (next + 8));
      snprintf(q, sizeof q, "{\"where\":{\"status\":\"open\"},\"sort\":[{\"n\":\"desc\"}],\"limit\":50,\"after\":\"%.*s\"}", len, next + 8);
      following = query(q);
    }
    if (page != first) sync_string_free(page);
    page = following;
  }
  CHECK(seen == (DOCS + 2) / 3);

  /* An index changes the plan, not the answer; dropping it leaves the cached statement stale: it is compiled again. */
  char *before = query(sorted);
  REQUIRE(sync_engine_create_index(engine, "{\"name\":\"by_status\",\"fields\":[\"status\",\"n\"]}") == SYNC_RESULT_SUCCESS);
  char *explained = NULL;
  REQUIRE(sync_engine_explain_query(engine, sorted, &explained) == SYNC_RESULT_SUCCESS);
  CHECK(strstr(explained, "\"index\":\"by_status\"") != NULL);
  sync_string_free(explained);
  char *indexed = query(sorted);
  CHECK(strcmp(before, indexed) == 0);
  char *listed = NULL;
  REQUIRE(sync_engine_list_indexes(engine, &listed) == SYNC_RESULT_SUCCESS);
  CHECK(strstr(listed, "\"name\":\"by_status\"") != NULL && strstr(listed, "\"kind\":\"value\"") != NULL);
  sync_string_free(listed);
  REQUIRE(sync_engine_drop_index(engine, "by_status") == SYNC_RESULT_SUCCESS);
  char *dropped = query(sorted);
  CHECK(strcmp(before, dropped) == 0);
  CHECK(sync_engine_drop_index(engine, "by_status") == SYNC_RESULT_NOT_FOUND);
  sync_string_free(before);
  sync_string_free(indexed);
  sync_string_free(dropped);
  sync_string_free(first);

  /* A unique index refuses a local change that repeats a key. */
  REQUIRE(sync_engine_create_index(engine, "{\"name\":\"unique_n\",\"fields\":[\"n\"],\"unique\":true}") == SYNC_RESULT_SUCCESS);
  char id[SYNC_DOCUMENT_ID_SIZE];
  CHECK(sync_engine_create_document(engine, "{\"n\":5}", id) == SYNC_RESULT_CONFLICT);
  CHECK(count_of("{\"n\":5}") == 1);
  REQUIRE(sync_engine_drop_index(engine, "unique_n") == SYNC_RESULT_SUCCESS);

  /* $regex runs on the engine's thread (its function lives there), with the same answer shape. */
  CHECK(count_of("{\"title\":{\"$regex\":\"^plain synth 1[0-9]$\"}}") == 9);

  /* Full-text search: diacritics folded, prefixes. */
  REQUIRE(sync_engine_create_text_index(engine, "{\"name\":\"titles\",\"fields\":[\"title\"]}") == SYNC_RESULT_SUCCESS);
  char *found = query("{\"search\":\"emile\",\"count\":true}");
  CHECK(number_after(found, "count") == (DOCS + 6) / 7);
  sync_string_free(found);
  found = query("{\"search\":\"syn*\",\"where\":{\"status\":\"done\"},\"count\":true}");
  CHECK(number_after(found, "count") == DOCS / 3);
  sync_string_free(found);

  /* Bad input: a clear code and message, nothing written. */
  char *out = (char *)"untouched";
  CHECK(sync_engine_query(NULL, "{}", &out) == SYNC_RESULT_NOT_INITIALIZED && out == NULL);
  CHECK(sync_engine_query(engine, NULL, &out) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_query(engine, "{}", NULL) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_query(engine, "{\"where\":", &out) == SYNC_RESULT_INVALID_INPUT && out == NULL);
  CHECK(sync_engine_query(engine, "{\"where\":{\"priority\":{\"$inn\":[1]}}}", &out) == SYNC_RESULT_INVALID_INPUT);
  CHECK(strstr(sync_last_error_message(), "where.priority.$inn") != NULL);
  CHECK(sync_engine_query(engine, "{\"where\":{\"t\":\"\xff\"}}", &out) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_query(engine, "{\"limit\":-1}", &out) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_explain_query(engine, "[]", &out) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_create_index(engine, NULL) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_create_index(engine, "{\"name\":\"x\"}") == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_create_index(NULL, "{\"name\":\"x\",\"fields\":[\"a\"]}") == SYNC_RESULT_NOT_INITIALIZED);
  CHECK(sync_engine_drop_index(engine, NULL) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_list_indexes(engine, NULL) == SYNC_RESULT_INVALID_INPUT);
  SyncLiveQuery *lq = (SyncLiveQuery *)&out;
  CHECK(sync_engine_watch_query(engine, "{}", 0, NULL, NULL, &lq) == SYNC_RESULT_INVALID_INPUT && lq == NULL);
  CHECK(sync_engine_watch_query(engine, "{}", 0x80, on_diff, NULL, &lq) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_watch_query(engine, "{\"where\":{\"a\":{\"$bad\":1}}}", 0, on_diff, NULL, &lq) == SYNC_RESULT_INVALID_INPUT && lq == NULL);
  CHECK(sync_engine_watch_query(NULL, "{}", 0, on_diff, NULL, &lq) == SYNC_RESULT_NOT_INITIALIZED);
  CHECK(sync_engine_watch_query(engine, "{}", 0, on_diff, NULL, NULL) == SYNC_RESULT_INVALID_INPUT);
  sync_live_query_close(NULL);
  CHECK(count_of("{}") == DOCS);

  /* A live query: the first result, then one diff per commit that changes it, on this thread. */
  Watch open = {0};
  open.thread = pthread_self();
  REQUIRE(sync_engine_watch_query(engine, "{\"where\":{\"status\":\"open\"},\"sort\":[{\"n\":\"desc\"}],\"limit\":20}", SYNC_WATCH_TOTAL, on_diff, &open,
                                  &open.self) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(engine, watch_called, &open, 10000));
  CHECK(open.calls == 1 && open.added == 20 && open.total == (DOCS + 2) / 3);
  /* 200 more live queries, each on its own value: one write concerns one of them. */
  Watch many[200];
  for (int i = 0; i < 200; i++) {
    memset(&many[i], 0, sizeof many[i]);
    many[i].thread = pthread_self();
    char q[128];
    snprintf(q, sizeof q, "{\"where\":{\"n\":%d}}", 1000 + i);
    REQUIRE(sync_engine_watch_query(engine, q, 0, on_diff, &many[i], &many[i].self) == SYNC_RESULT_SUCCESS);
  }
  Calls first_of_last = {&many[199], 1};
  CHECK(test_pump_until(engine, watch_reached, &first_of_last, 10000));
  REQUIRE(sync_engine_create_document(engine, "{\"status\":\"open\",\"n\":1000}", id) == SYNC_RESULT_SUCCESS);
  Calls second = {&open, 2};
  CHECK(test_pump_until(engine, watch_reached, &second, 10000));
  Calls many_second = {&many[0], 2};
  CHECK(test_pump_until(engine, watch_reached, &many_second, 10000));
  CHECK(open.calls == 2 && open.added == 21 && open.removed == 1 && open.total == (DOCS + 2) / 3 + 1);
  int others = 0;
  for (int i = 1; i < 200; i++) others += many[i].calls - 1;
  CHECK(many[0].calls == 2 && others == 0);
  for (int i = 0; i < 200; i++) {
    CHECK(!many[i].wrong_thread);
    sync_live_query_close(many[i].self);
  }
  /* Closed inside its own callback, on the next diff: never called again. */
  open.close_on_call = 3;
  REQUIRE(sync_engine_merge_document(engine, id, "{\"n\":1001}") == SYNC_RESULT_SUCCESS);
  Calls third = {&open, 3};
  CHECK(test_pump_until(engine, watch_reached, &third, 10000));
  CHECK(open.self == NULL);
  REQUIRE(sync_engine_merge_document(engine, id, "{\"n\":1002}") == SYNC_RESULT_SUCCESS);
  REQUIRE(sync_engine_delete_document(engine, id) == SYNC_RESULT_SUCCESS);
  test_pump_until(engine, watch_reached, &(Calls){&open, 4}, 500);
  CHECK(open.calls == 3 && !open.wrong_thread);

  /* Other threads query while this one writes: every answer whole. */
  pthread_t threads[2];
  for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, query_loop, NULL);
  for (int i = 0; i < 100; i++) CHECK(sync_engine_create_document(engine, "{\"status\":\"open\",\"n\":-1}", id) == SYNC_RESULT_SUCCESS);
  atomic_store(&stop, true);
  for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
  CHECK(atomic_load(&thread_failures) == 0);

  sync_engine_destroy(engine);

  /* The time limit: a scan of every document cannot finish within 1 ms. */
  test_config(&config, &env, "queries.db", email);
  config.start_offline = true;
  config.query_time_limit_ms = 1;
  REQUIRE(sync_engine_open(&config, &engine) == SYNC_RESULT_SUCCESS);
  char *big = malloc(64 * 1024);
  for (int round = 0; round < 20; round++) {
    size_t n = (size_t)snprintf(big, 64 * 1024, "[");
    for (int i = 0; i < 500; i++) n += (size_t)snprintf(big + n, 64 * 1024 - n, "%s{\"k\":%d,\"s\":\"%0100d\"}", i ? "," : "", round * 500 + i, i);
    snprintf(big + n, 64 * 1024 - n, "]");
    REQUIRE(sync_engine_create_documents(engine, big, &ids) == SYNC_RESULT_SUCCESS);
    sync_string_free(ids);
  }
  free(big);
  const char *slow = "{\"where\":{\"$or\":[{\"s\":{\"$gt\":\"1\"}},{\"k\":{\"$type\":\"string\"}},{\"x.y.z\":{\"$size\":3}}]},\"sort\":[{\"s\":\"desc\"}]}";
  out = NULL;
  SyncResult r = sync_engine_query(engine, slow, &out);
  CHECK(r == SYNC_RESULT_TIMEOUT && out == NULL);
  CHECK(strstr(sync_last_error_message(), "longer than 1 ms") != NULL);
  /* A $regex runs on the engine's thread, under the same limit. */
  CHECK(sync_engine_query(engine, "{\"where\":{\"s\":{\"$regex\":\"(0|1)*2\"}}}", &out) == SYNC_RESULT_TIMEOUT && out == NULL);
  CHECK(strstr(sync_last_error_message(), "longer than 1 ms") != NULL);
  /* The engine goes on: a quick read after it. */
  char *one = NULL;
  CHECK(sync_engine_get_all_documents(engine, &one) == SYNC_RESULT_SUCCESS);
  sync_string_free(one);
  sync_engine_destroy(engine);
  return test_finish("c_api_queries");
}
