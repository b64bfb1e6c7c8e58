/* The bounded event queue: 100k events without sync_engine_process_events keep memory flat, the
 * next delivery starts with one SYNC_EVENT_SYNC_ERROR counting what was dropped, the newest events
 * survive, and past the limit the updates of one document coalesce into one carrying the newest
 * content. Offline engines only (start_offline): every event here comes from a local call. */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

#define LIMIT 10000u
#define WARMUP 1000
#define CREATES 100000
#define SMALL_LIMIT 10u

typedef struct Delivery {
  uint32_t count;
  int first_type;
  unsigned long long first_numeric;
  int errors;             /* SYNC_EVENT_SYNC_ERROR events seen */
  int created;            /* DocumentCreated */
  char last_id[37];       /* id of the last event delivered */
  /* coalescing part */
  const char *watch_id;   /* count DocumentUpdated of this document */
  int watch_updates;
  int other_updates;
  char watch_content[256];
} Delivery;

static void on_event(const SyncEventData *e, void *context) {
  Delivery *d = context;
  if (d->count == 0) {
    d->first_type = e->event_type;
    d->first_numeric = e->numeric_data;
  }
  d->count++;
  if (e->event_type == SYNC_EVENT_SYNC_ERROR) d->errors++;
  if (e->event_type == SYNC_EVENT_DOCUMENT_CREATED) d->created++;
  snprintf(d->last_id, sizeof d->last_id, "%s", e->document_id ? e->document_id : "");
  if (e->event_type == SYNC_EVENT_DOCUMENT_UPDATED) {
    if (d->watch_id && e->document_id && strcmp(e->document_id, d->watch_id) == 0) {
      d->watch_updates++;
      snprintf(d->watch_content, sizeof d->watch_content, "%s", e->content ? e->content : "");
    } else {
      d->other_updates++;
    }
  }
}

static SyncEngineHandle *offline_engine(const char *name, uint32_t limit) {
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.event_queue_limit = limit;
  o.start_offline = true;
  /* Never contacted (start_offline): port 1 refuses connections anyway. */
  return sync_engine_create_with_options(test_db_path(name), "ws://127.0.0.1:1/ws", "overflow@example.com", TEST_OFFLINE_API_KEY, TEST_OFFLINE_API_SECRET, &o);
}

static void overflow_100k(void) {
  SyncEngineHandle *e = offline_engine("overflow", LIMIT);
  REQUIRE(e != NULL);
  Delivery d = {0};
  CHECK(sync_engine_register_event_callback(e, on_event, &d, -1) == SYNC_RESULT_SUCCESS);
  char id[37], json[512];
  /* ~330 bytes of content per event: an unbounded queue would hold 100k of them (> 50 MB with the
   * event records), the bounded one 10k. */
  char filler[301];
  for (int i = 0; i < 300; i++) filler[i] = "abcdefghijklmnopqrstuvwxyz "[i % 27];
  filler[300] = '\0';
  for (int i = 0; i < WARMUP; i++) {
    snprintf(json, sizeof json, "{\"title\":\"warm-up %d\",\"n\":%d}", i, i);
    REQUIRE(sync_engine_create_document(e, json, id) == SYNC_RESULT_SUCCESS);
  }
  uint32_t processed = 0;
  CHECK(sync_engine_process_events(e, &processed) == SYNC_RESULT_SUCCESS);
  CHECK(processed == WARMUP);  /* under the limit: nothing dropped, no SyncError */
  CHECK(d.errors == 0 && d.created == WARMUP);
  memset(&d, 0, sizeof d);

  long before = rt_rss_kb();
  double t0 = test_now_ms();
  int failed = 0;
  for (int i = 0; i < CREATES; i++) {
    snprintf(json, sizeof json, "{\"title\":\"doc %d\",\"n\":%d,\"text\":\"%s\"}", i, i, filler);
    if (sync_engine_create_document(e, json, id) != SYNC_RESULT_SUCCESS && failed++ == 0)
      fprintf(stderr, "create %d failed: %s\n", i, sync_last_error_message());
    if (test_now_ms() - t0 > 100000) {
      fprintf(stderr, "stopping after %d creates: over 100 s\n", i + 1);
      test_failures++;
      break;
    }
  }
  double elapsed = test_now_ms() - t0;
  long after = rt_rss_kb();
  CHECK(failed == 0);
  printf("rt_overflow: %d creates without process_events in %.1f s (%.0f/s); RSS %.1f MB -> %.1f MB (growth %.1f MB, limit 50 MB)\n", CREATES,
         elapsed / 1000, CREATES / (elapsed / 1000), before / 1024.0, after / 1024.0, (after - before) / 1024.0);
  CHECK(before > 0 && after > 0);
  CHECK(after - before < 50 * 1024);

  char last_id[37];
  snprintf(last_id, sizeof last_id, "%s", id);
  processed = 0;
  t0 = test_now_ms();
  CHECK(sync_engine_process_events(e, &processed) == SYNC_RESULT_SUCCESS);
  printf("rt_overflow: process_events delivered %u events in %.1f ms; first type %d, dropped %llu\n", processed, test_now_ms() - t0, d.first_type,
         d.first_numeric);
  CHECK(processed == d.count);
  CHECK(processed <= LIMIT + 1);
  CHECK(processed == LIMIT + 1);  /* 100k events into a queue of 10k: it is full */
  CHECK(d.first_type == SYNC_EVENT_SYNC_ERROR);
  CHECK(d.first_numeric > 0);
  CHECK(d.errors == 1);
  /* Every event is either delivered or counted as dropped; the oldest were dropped, the newest kept. */
  CHECK(d.first_numeric + (processed - 1) == CREATES);
  CHECK(d.created == (int)LIMIT);
  CHECK(strcmp(d.last_id, last_id) == 0);
  /* Drained: nothing more, and no second SyncError. */
  CHECK(sync_engine_process_events(e, &processed) == SYNC_RESULT_SUCCESS && processed == 0);
  uint64_t count = 0;
  CHECK(sync_engine_count_documents(e, &count) == SYNC_RESULT_SUCCESS && count == WARMUP + CREATES);
  sync_engine_destroy(e);
}

static void coalescing(void) {
  SyncEngineHandle *e = offline_engine("coalesce", SMALL_LIMIT);
  REQUIRE(e != NULL);
  Delivery d = {0};
  CHECK(sync_engine_register_event_callback(e, on_event, &d, -1) == SYNC_RESULT_SUCCESS);
  char watched[37], id[37], json[128];
  REQUIRE(sync_engine_create_document(e, "{\"title\":\"watched\",\"v\":-1}", watched) == SYNC_RESULT_SUCCESS);
  for (unsigned i = 0; i < SMALL_LIMIT + 5; i++) {  /* the queue is full from here on */
    snprintf(json, sizeof json, "{\"title\":\"filler %u\"}", i);
    CHECK(sync_engine_create_document(e, json, id) == SYNC_RESULT_SUCCESS);
  }
  for (int v = 0; v < 50; v++) {
    snprintf(json, sizeof json, "{\"title\":\"watched\",\"v\":%d}", v);
    CHECK(sync_engine_update_document(e, watched, json) == SYNC_RESULT_SUCCESS);
  }
  d.watch_id = watched;
  uint32_t processed = 0;
  CHECK(sync_engine_process_events(e, &processed) == SYNC_RESULT_SUCCESS);
  printf("rt_overflow: limit %u, 1 + %u creates then 50 updates of one document: %u events delivered, %llu dropped, %d update(s) of it: %s\n",
         SMALL_LIMIT, SMALL_LIMIT + 5, processed, d.first_numeric, d.watch_updates, d.watch_content);
  CHECK(processed <= SMALL_LIMIT + 1);
  CHECK(d.first_type == SYNC_EVENT_SYNC_ERROR && d.first_numeric > 0);
  CHECK(d.watch_updates == 1);
  CHECK(d.other_updates == 0);
  CHECK(strstr(d.watch_content, "\"v\":49") != NULL);
  /* Only the first update took a slot (dropping one more create); the other 49 replaced it. */
  CHECK(d.first_numeric == (1 + SMALL_LIMIT + 5) - SMALL_LIMIT + 1);
  /* Under the limit, updates are not coalesced: each is delivered. */
  memset(&d, 0, sizeof d);
  d.watch_id = watched;
  for (int v = 100; v < 105; v++) {
    snprintf(json, sizeof json, "{\"title\":\"watched\",\"v\":%d}", v);
    CHECK(sync_engine_update_document(e, watched, json) == SYNC_RESULT_SUCCESS);
  }
  CHECK(sync_engine_process_events(e, &processed) == SYNC_RESULT_SUCCESS);
  CHECK(processed == 5 && d.watch_updates == 5 && d.errors == 0);
  CHECK(strstr(d.watch_content, "\"v\":104") != NULL);
  sync_engine_destroy(e);
}

int main(void) {
  coalescing();
  overflow_100k();
  return test_finish("rt_overflow");
}
