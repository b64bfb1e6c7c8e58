/* Attachments through the C API against the fixture's real server.
 * - Engine A adds attachments of 0, 1, 262143, 262144 and 262145 bytes (a chunk is 262144) from
 *   memory, and of 0 and 5 MiB + 3 bytes from files, each referred to by a document: each id is the
 *   SHA-256 sha256sum computes for the same bytes, and A reads each back; four threads add and read
 *   back more at once. A uploads them all (upload events, then no pending upload).
 * - Engine B of the same user fetches each: not local before, then ATTACHMENT_PROGRESS (never
 *   backwards, never past the length) and one ATTACHMENT_COMPLETED, drained by
 *   sync_engine_process_events, then the very bytes; fetching one it has gives COMPLETED again.
 * - Engine D, opened with attachment_fetch_eager, downloads them all unasked as the documents arrive;
 *   engine F, with attachment_cache_mib 0, drops a downloaded attachment no document refers to
 *   when the next one arrives.
 * - Engine C saves one it never fetched straight to a file; offline, it is refused another.
 * - A download the connection drops (B set offline) still gets its one outcome event; B completes
 *   it once online again.
 * - An attachment no device of the user uploaded: fetch answers at once and fails by event; save
 *   and get say not found. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define CHUNK 262144
#define BIG (5 * 1024 * 1024 + 3)
#define TRACKED 64

/* What one engine's listener saw of each attachment. */
typedef struct Transfer {
  char id[72];
  int progress;
  bool progress_backwards;
  bool progress_past_length;
  uint64_t last_progress;
  int completed;
  uint64_t completed_length;
  int failed;
  char error[256];
  bool upload;      /* boolean_data of the last event */
  bool mixed_kinds; /* document_id or title set on an attachment event */
} Transfer;

typedef struct Seen {
  Transfer transfers[TRACKED];
  int count;
} Seen;

static Transfer *transfer_of(Seen *seen, const char *id) {
  for (int i = 0; i < seen->count; i++)
    if (strcmp(seen->transfers[i].id, id) == 0) return &seen->transfers[i];
  if (seen->count == TRACKED) return NULL;
  Transfer *t = &seen->transfers[seen->count++];
  memset(t, 0, sizeof *t);
  snprintf(t->id, sizeof t->id, "%s", id);
  return t;
}

/* The attachment id inside a reference's JSON text ("$attachment": "sha256-..."); false when none. */
static bool id_in_reference(const char *reference, char out[72]) {
  const char *at = reference ? strstr(reference, "\"$attachment\":\"sha256-") : NULL;
  if (!at) return false;
  snprintf(out, 72, "%.71s", at + strlen("\"$attachment\":\""));
  return strlen(out) == 71;
}

static void record(const SyncEventData *e, void *context) {
  if (e->event_type != SYNC_EVENT_ATTACHMENT_PROGRESS && e->event_type != SYNC_EVENT_ATTACHMENT_COMPLETED &&
      e->event_type != SYNC_EVENT_ATTACHMENT_FAILED)
    return;
  char id[72];
  CHECK(id_in_reference(e->content, id));
  Transfer *t = transfer_of(context, id);
  CHECK(t != NULL); /* more attachments than TRACKED */
  if (!t) return;
  t->upload = e->boolean_data;
  t->mixed_kinds |= e->document_id != NULL || e->title != NULL;
  uint64_t length = 0;
  const char *l = strstr(e->content, "\"length\":");
  if (l) length = strtoull(l + strlen("\"length\":"), NULL, 10);
  if (e->event_type == SYNC_EVENT_ATTACHMENT_PROGRESS) {
    t->progress_backwards |= e->numeric_data < t->last_progress;
    t->progress_past_length |= e->numeric_data > length;
    t->last_progress = e->numeric_data;
    t->progress++;
  } else if (e->event_type == SYNC_EVENT_ATTACHMENT_COMPLETED) {
    t->completed++;
    t->completed_length = e->numeric_data;
  } else {
    t->failed++;
    snprintf(t->error, sizeof t->error, "%s", e->error ? e->error : "");
  }
}

/* test_pump_until's condition: the transfer of `wait.id` in `wait.seen` completed or failed. */
typedef struct Wait {
  Seen *seen;
  const char *id;
} Wait;

static bool finished(void *context) {
  Wait *w = context;
  Transfer *t = transfer_of(w->seen, w->id);
  return t && (t->completed > 0 || t->failed > 0);
}

static bool completed_twice(void *transfer) { return transfer && ((Transfer *)transfer)->completed >= 2; }
static bool completed_once(void *transfer) { return transfer && ((Transfer *)transfer)->completed >= 1; }

typedef struct Uploads {
  SyncEngineHandle *engine;
  Seen *seen;
  char (*ids)[72];
  int n;
} Uploads;

/* Every upload confirmed by an event and none pending any more. */
static bool all_uploaded(void *context) {
  Uploads *u = context;
  for (int i = 0; i < u->n; i++) {
    Transfer *t = transfer_of(u->seen, u->ids[i]);
    if (!t || t->completed == 0) return false;
  }
  uint64_t pending = 1;
  return sync_engine_count_pending_attachments(u->engine, &pending) == SYNC_RESULT_SUCCESS && pending == 0;
}

/* Deterministic, incompressible-looking bytes; `salt` tells the attachments apart. */
static unsigned char *make_bytes(size_t length, unsigned salt) {
  unsigned char *b = malloc(length ? length : 1);
  uint32_t x = 2463534242u ^ salt;
  for (size_t i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = (unsigned char)x;
  }
  return b;
}

/* The engine's local copy of `id` equals `bytes`. */
static bool local_copy_is(SyncEngineHandle *engine, const char *id, const unsigned char *bytes, size_t length) {
  void *got = NULL;
  size_t got_length = 99;
  SyncResult r = sync_engine_get_attachment(engine, id, &got, &got_length);
  bool same = r == SYNC_RESULT_SUCCESS && got != NULL && got_length == length && memcmp(got, bytes, length) == 0;
  if (!same) fprintf(stderr, "get_attachment(%s): result %d, %zu bytes (want %zu): %s\n", id, r, got_length, length, sync_last_error_message());
  sync_bytes_free(got);
  return same;
}

static bool file_is(const char *path, const unsigned char *bytes, size_t length) {
  size_t got_length = 0;
  unsigned char *got = test_read_file(path, &got_length);
  bool same = got && got_length == length && memcmp(got, bytes, length) == 0;
  free(got);
  return same;
}

/* Threads adding and reading back attachments on one engine at once: every call succeeds with its own bytes. */
typedef struct Adder {
  SyncEngineHandle *engine;
  unsigned index;
  int failures;
  char ids[5][72]; /* what it added: attachments no document refers to */
} Adder;

static void *add_and_read(void *arg) {
  Adder *adder = arg;
  for (unsigned round = 0; round < 5; round++) {
    size_t length = 1000 + adder->index * 70000 + round * 33000;
    unsigned char *bytes = make_bytes(length, 1000 + adder->index * 10 + round);
    char *reference = NULL;
    char *id = adder->ids[round];
    if (sync_engine_add_attachment(adder->engine, bytes, length, "application/x-thread", &reference) != SYNC_RESULT_SUCCESS ||
        !id_in_reference(reference, id) || !local_copy_is(adder->engine, id, bytes, length))
      adder->failures++;
    sync_string_free(reference);
    free(bytes);
  }
  return NULL;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  char email[128];
  test_unique_email(email, sizeof email, "attachments");
  SyncEngineHandle *a = test_engine(&env, "att_a", email);
  REQUIRE(a != NULL);
  Seen seen_a = {0};
  REQUIRE(sync_engine_add_listener(a, SYNC_EVENT_ALL, record, &seen_a, NULL) == SYNC_RESULT_SUCCESS);

  /* ---- A adds: from memory, then from files ---- */
  enum { FROM_MEMORY = 5, ALL = 7 };
  const size_t lengths[ALL] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 0, BIG};
  unsigned char *bytes[ALL];
  char ids[ALL][72];
  char path[ALL][512];
  for (int i = 0; i < ALL; i++) {
    bytes[i] = make_bytes(lengths[i], (unsigned)i);
    char name[32];
    snprintf(name, sizeof name, "attachment-%d", i);
    snprintf(path[i], sizeof path[i], "%s", test_db_path(name));
    REQUIRE(test_write_file(path[i], bytes[i], lengths[i]));
    char expected[72];
    REQUIRE(test_attachment_id_of_file(path[i], expected));
    char *reference = NULL;
    const char *type = i % 2 ? "image/png" : NULL;
    SyncResult r = i < FROM_MEMORY ? sync_engine_add_attachment(a, bytes[i], lengths[i], type, &reference)
                                   : sync_engine_add_attachment_file(a, path[i], type, &reference);
    CHECK(r == SYNC_RESULT_SUCCESS);
    REQUIRE(reference != NULL);
    CHECK(id_in_reference(reference, ids[i]));
    CHECK(strcmp(ids[i], expected) == 0);
    char length_member[48];
    snprintf(length_member, sizeof length_member, "\"length\":%zu", lengths[i]);
    CHECK(strstr(reference, length_member) != NULL);
    CHECK(strstr(reference, type ? "\"content_type\":\"image/png\"" : "\"content_type\":\"application/octet-stream\"") != NULL);
    /* The reference goes into a document as it is. */
    char *json = malloc(strlen(reference) + 64);
    sprintf(json, "{\"title\":\"with attachment %d\",\"file\":%s}", i, reference);
    char doc[37];
    CHECK(sync_engine_create_document(a, json, doc) == SYNC_RESULT_SUCCESS);
    free(json);
    sync_string_free(reference);
    CHECK(local_copy_is(a, ids[i], bytes[i], lengths[i]));
  }
  /* Empty bytes from memory and from a file are one attachment; so are equal bytes added twice. */
  CHECK(strcmp(ids[0], ids[5]) == 0);
  char *again = NULL;
  CHECK(sync_engine_add_attachment(a, bytes[2], lengths[2], NULL, &again) == SYNC_RESULT_SUCCESS);
  char again_id[72] = "";
  CHECK(again && id_in_reference(again, again_id) && strcmp(again_id, ids[2]) == 0);
  sync_string_free(again);
  CHECK(sync_engine_add_attachment(a, NULL, 0, NULL, &again) == SYNC_RESULT_SUCCESS);
  CHECK(again && id_in_reference(again, again_id) && strcmp(again_id, ids[0]) == 0);
  sync_string_free(again);

  /* ---- four threads at once ---- */
  pthread_t threads[4];
  Adder adders[4];
  for (unsigned i = 0; i < 4; i++) {
    adders[i] = (Adder){.engine = a, .index = i};
    REQUIRE(pthread_create(&threads[i], NULL, add_and_read, &adders[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    CHECK(adders[i].failures == 0);
  }

  /* ---- A uploads them all ---- */
  Uploads uploads = {a, &seen_a, ids, ALL};
  CHECK(test_pump_until(a, all_uploaded, &uploads, 90000));
  for (int i = 0; i < ALL; i++) {
    Transfer *t = transfer_of(&seen_a, ids[i]);
    CHECK(t && t->upload && t->failed == 0 && t->completed_length == lengths[i] && !t->mixed_kinds);
  }
  char *state = NULL;
  CHECK(sync_engine_attachment_state(a, ids[6], &state) == SYNC_RESULT_SUCCESS);
  CHECK(state && strstr(state, "\"local\":true") && strstr(state, "\"uploaded\":true"));
  sync_string_free(state);

  /* ---- B, another device of the user, fetches each ---- */
  SyncEngineHandle *b = test_engine(&env, "att_b", email);
  REQUIRE(b != NULL);
  Seen seen_b = {0};
  REQUIRE(sync_engine_add_listener(b, SYNC_EVENT_ALL, record, &seen_b, NULL) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(b, test_connected, b, 15000)); /* fetching needs the connection */
  for (int i = 0; i < ALL; i++) {
    if (i == 5) continue; /* the same as 0 */
    void *none = (void *)1;
    size_t none_length = 7;
    CHECK(sync_engine_get_attachment(b, ids[i], &none, &none_length) == SYNC_RESULT_NOT_FOUND);
    CHECK(none == NULL && none_length == 0);
    double started = test_now_ms();
    CHECK(sync_engine_fetch_attachment(b, ids[i]) == SYNC_RESULT_SUCCESS);
    printf("fetch_attachment(%zu bytes) returned after %.0f ms\n", lengths[i], test_now_ms() - started);
    Wait wait = {&seen_b, ids[i]};
    CHECK(test_pump_until(b, finished, &wait, 60000));
    Transfer *t = transfer_of(&seen_b, ids[i]);
    CHECK(t && t->completed == 1 && t->failed == 0 && !t->upload && t->completed_length == lengths[i] && !t->mixed_kinds);
    CHECK(t && !t->progress_backwards && !t->progress_past_length);
    if (t && t->failed) fprintf(stderr, "fetch of %zu bytes failed: %s\n", lengths[i], t->error);
    CHECK(local_copy_is(b, ids[i], bytes[i], lengths[i]));
  }
  /* Fetching what is here already: success, and its completion event at once. */
  CHECK(sync_engine_fetch_attachment(b, ids[1]) == SYNC_RESULT_SUCCESS);
  Transfer *again_b = transfer_of(&seen_b, ids[1]);
  CHECK(test_pump_until(b, completed_twice, again_b, 10000));
  CHECK(again_b && again_b->completed == 2 && again_b->failed == 0 && again_b->completed_length == 1);
  Transfer *big = transfer_of(&seen_b, ids[6]);
  CHECK(big && big->progress >= 1);
  printf("the %d-byte download reported progress %d times\n", BIG, big ? big->progress : 0);
  /* Saving a local attachment writes its bytes. */
  char saved[512];
  snprintf(saved, sizeof saved, "%s", test_db_path("saved-big"));
  CHECK(sync_engine_save_attachment(b, ids[6], saved) == SYNC_RESULT_SUCCESS);
  CHECK(file_is(saved, bytes[6], lengths[6]));

  /* ---- D, opened with attachment_fetch_eager, downloads what the documents it receives refer to ---- */
  SyncEngineConfig eager_config;
  test_config(&eager_config, &env, "att_d", email);
  eager_config.attachment_fetch_eager = true;
  SyncEngineHandle *d = NULL;
  REQUIRE(sync_engine_open(&eager_config, &d) == SYNC_RESULT_SUCCESS);
  Seen seen_d = {0};
  REQUIRE(sync_engine_add_listener(d, SYNC_EVENT_ALL, record, &seen_d, NULL) == SYNC_RESULT_SUCCESS);
  Wait eager_wait = {&seen_d, ids[6]};
  CHECK(test_pump_until(d, finished, &eager_wait, 60000));
  for (int i = 1; i < ALL; i++) {
    Wait each = {&seen_d, ids[i]};
    CHECK(test_pump_until(d, finished, &each, 30000));
    CHECK(local_copy_is(d, ids[i], bytes[i], lengths[i]));
  }
  sync_engine_destroy(d);

  /* ---- F keeps no attachment cache (attachment_cache_mib 0): one no document refers to goes when the next arrives ---- */
  SyncEngineConfig small_config;
  test_config(&small_config, &env, "att_f", email);
  small_config.attachment_cache_mib = 0;
  SyncEngineHandle *f = NULL;
  REQUIRE(sync_engine_open(&small_config, &f) == SYNC_RESULT_SUCCESS);
  Seen seen_f = {0};
  REQUIRE(sync_engine_add_listener(f, SYNC_EVENT_ALL, record, &seen_f, NULL) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(f, test_connected, f, 15000));
  const char *first = adders[3].ids[4], *second = adders[2].ids[4];
  CHECK(sync_engine_fetch_attachment(f, first) == SYNC_RESULT_SUCCESS);
  Wait first_done = {&seen_f, first};
  CHECK(test_pump_until(f, finished, &first_done, 30000));
  CHECK(sync_engine_attachment_state(f, first, &state) == SYNC_RESULT_SUCCESS && state && strstr(state, "\"local\":true"));
  sync_string_free(state);
  CHECK(sync_engine_fetch_attachment(f, second) == SYNC_RESULT_SUCCESS);
  Wait second_done = {&seen_f, second};
  CHECK(test_pump_until(f, finished, &second_done, 30000));
  void *evicted = NULL;
  size_t evicted_length = 0;
  CHECK(sync_engine_get_attachment(f, first, &evicted, &evicted_length) == SYNC_RESULT_NOT_FOUND);
  CHECK(sync_engine_get_attachment(f, second, &evicted, &evicted_length) == SYNC_RESULT_SUCCESS && evicted_length > 0);
  sync_bytes_free(evicted);
  sync_engine_destroy(f);

  /* ---- C saves one it never fetched, then, offline, is refused ---- */
  SyncEngineHandle *c = test_engine(&env, "att_c", email);
  REQUIRE(c != NULL);
  CHECK(test_pump_until(c, test_connected, c, 15000)); /* a save that must download needs the connection */
  snprintf(saved, sizeof saved, "%s", test_db_path("saved-c"));
  CHECK(sync_engine_save_attachment(c, ids[4], saved) == SYNC_RESULT_SUCCESS);
  CHECK(file_is(saved, bytes[4], lengths[4]));
  CHECK(local_copy_is(c, ids[4], bytes[4], lengths[4]));
  CHECK(sync_engine_set_online(c, false) == SYNC_RESULT_SUCCESS);
  snprintf(saved, sizeof saved, "%s", test_db_path("saved-offline"));
  CHECK(sync_engine_save_attachment(c, ids[3], saved) == SYNC_RESULT_CONNECTION);
  CHECK(sync_last_error_message()[0] != '\0');
  CHECK(access(saved, F_OK) != 0);
  CHECK(sync_engine_fetch_attachment(c, ids[3]) == SYNC_RESULT_CONNECTION);
  CHECK(sync_last_error_message()[0] != '\0');

  /* ---- an attachment no device of the user uploaded ---- */
  char *unknown_ref = NULL;
  unsigned char *other = make_bytes(100, 99);
  char stranger_email[128];
  test_unique_email(stranger_email, sizeof stranger_email, "attachments-stranger");
  SyncEngineHandle *stranger = test_engine(&env, "att_stranger", stranger_email);
  REQUIRE(stranger != NULL);
  CHECK(sync_engine_set_online(stranger, false) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_add_attachment(stranger, other, 100, NULL, &unknown_ref) == SYNC_RESULT_SUCCESS);
  char unknown[72] = "";
  CHECK(unknown_ref && id_in_reference(unknown_ref, unknown));
  sync_string_free(unknown_ref);
  CHECK(sync_engine_fetch_attachment(b, unknown) == SYNC_RESULT_SUCCESS);
  Wait wait = {&seen_b, unknown};
  CHECK(test_pump_until(b, finished, &wait, 30000));
  Transfer *t = transfer_of(&seen_b, unknown);
  CHECK(t && t->failed == 1 && t->completed == 0 && t->error[0] != '\0' && !t->upload);
  if (t) printf("fetching an attachment never uploaded: %s\n", t->error);
  snprintf(saved, sizeof saved, "%s", test_db_path("saved-unknown"));
  CHECK(sync_engine_save_attachment(b, unknown, saved) == SYNC_RESULT_NOT_FOUND);
  CHECK(access(saved, F_OK) != 0);
  void *none = NULL;
  size_t none_length = 0;
  CHECK(sync_engine_get_attachment(b, unknown, &none, &none_length) == SYNC_RESULT_NOT_FOUND);

  /* ---- a download the connection drops: one outcome event all the same, and a later fetch completes ---- */
  const size_t huge_length = 24 * 1024 * 1024;
  unsigned char *huge = make_bytes(huge_length, 24);
  char *huge_ref = NULL;
  char huge_id[72] = "";
  CHECK(sync_engine_add_attachment(a, huge, huge_length, NULL, &huge_ref) == SYNC_RESULT_SUCCESS);
  CHECK(huge_ref && id_in_reference(huge_ref, huge_id));
  sync_string_free(huge_ref);
  Wait huge_up = {&seen_a, huge_id};
  CHECK(test_pump_until(a, finished, &huge_up, 120000));
  CHECK(sync_engine_fetch_attachment(b, huge_id) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_set_online(b, false) == SYNC_RESULT_SUCCESS);
  Wait huge_down = {&seen_b, huge_id};
  CHECK(test_pump_until(b, finished, &huge_down, 30000));
  Transfer *dropped = transfer_of(&seen_b, huge_id);
  CHECK(dropped && dropped->completed + dropped->failed == 1 && !dropped->upload);
  if (dropped) printf("a download the connection dropped: %s\n", dropped->failed ? dropped->error : "completed first");
  CHECK(sync_engine_set_online(b, true) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(b, test_connected, b, 15000));
  if (dropped && dropped->failed) {
    CHECK(sync_engine_fetch_attachment(b, huge_id) == SYNC_RESULT_SUCCESS);
    CHECK(test_pump_until(b, completed_once, dropped, 60000));
  }
  CHECK(local_copy_is(b, huge_id, huge, huge_length));
  free(huge);

  sync_engine_destroy(stranger);
  sync_engine_destroy(c);
  sync_engine_destroy(b);
  sync_engine_destroy(a);
  free(other);
  for (int i = 0; i < ALL; i++) free(bytes[i]);
  return test_finish("c_api_attachments");
}
