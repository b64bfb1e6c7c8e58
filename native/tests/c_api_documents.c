/* Round trips of every document call through the C API, against the real server:
 * create (generated id / given id, safe retry, conflict), update (full replacement), patch (RFC 6902),
 * merge (RFC 7386), delete, get / get_all (wire JSON), counts, is_connected, flush (a second engine
 * of the same user then has the document), offline → pending → online + flush → 0, undo / redo,
 * history and conflicts; the exact JSON of a read (escapes as the engine's JSON.stringify writes
 * them); create_documents (many in one call, all or nothing). */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static void random_uuid(char out[37]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  FILE *f = fopen("/dev/urandom", "rb");
  if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
    for (int i = 0; i < 16; i++) b[i] = (unsigned char)rand();
  }
  if (f) fclose(f);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  int o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 15];
  }
  out[o] = '\0';
}

static bool is_canonical_uuid(const char *s) {
  if (strlen(s) != 36) return false;
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

/** get_document's JSON (caller frees with sync_string_free) or NULL. */
static char *get_doc(SyncEngineHandle *e, const char *id) {
  char *json = NULL;
  if (sync_engine_get_document(e, id, &json) != SYNC_RESULT_SUCCESS) return NULL;
  return json;
}

/** True when the document exists and its JSON contains `fragment`. */
static bool doc_has(SyncEngineHandle *e, const char *id, const char *fragment) {
  char *json = get_doc(e, id);
  bool ok = json && strstr(json, fragment) != NULL;
  sync_string_free(json);
  return ok;
}

/**
 * doc_has, waiting up to 10 s: another engine's change reaches this one as the server's push, which
 * may come after this engine's own flush is done (it waits for its own changes and catch-up only).
 */
static bool arrives(SyncEngineHandle *e, const char *id, const char *fragment) {
  double deadline = test_now_ms() + 10000;
  while (!doc_has(e, id, fragment)) {
    if (test_now_ms() > deadline) return false;
    usleep(10000);
  }
  return true;
}

static uint64_t count_pending(SyncEngineHandle *e) {
  uint64_t n = UINT64_MAX;
  CHECK(sync_engine_count_pending(e, &n) == SYNC_RESULT_SUCCESS);
  return n;
}

/** The content of the latest DocumentCreated event, as the engine's JSON.stringify wrote it. */
static void remember_content(const SyncEventData *event, void *context) {
  if (event->content) snprintf((char *)context, 512, "%s", event->content);
}

static bool wait_connected(SyncEngineHandle *e, bool want, int timeout_ms) {
  double deadline = test_now_ms() + timeout_ms;
  for (;;) {
    bool connected = !want;
    CHECK(sync_engine_is_connected(e, &connected) == SYNC_RESULT_SUCCESS);
    if (connected == want) return true;
    if (test_now_ms() > deadline) return false;
    usleep(10000);
  }
}

/* ---- the test ------------------------------------------------------------------------------ */

int main(void) {
  TestEnv env;
  test_env_load(&env);
  char email[128];
  test_unique_email(email, sizeof email, "docs");

  SyncEngineHandle *a = test_engine(&env, "docs_a", email);
  REQUIRE(a != NULL);

  /* Connected once the first flush is through. */
  CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
  CHECK(wait_connected(a, true, 5000));
  CHECK(test_count_documents(a) == 0);
  CHECK(count_pending(a) == 0);

  /* create_document: a fresh lowercase UUID and the wire JSON back. */
  char id[37];
  memset(id, 'x', sizeof id);
  CHECK(sync_engine_create_document(a, "{\"title\":\"First\",\"alpha\":1,\"beta\":2}", id) == SYNC_RESULT_SUCCESS);
  CHECK(strlen(id) == 36);
  CHECK(is_canonical_uuid(id));
  {
    char *json = get_doc(a, id);
    REQUIRE(json != NULL);
    char idfield[64];
    snprintf(idfield, sizeof idfield, "\"id\":\"%s\"", id);
    CHECK(json[0] == '{');
    CHECK(strstr(json, idfield) != NULL);
    CHECK(strstr(json, "\"title\":\"First\"") != NULL);
    CHECK(strstr(json, "\"content\":{") != NULL);
    CHECK(strstr(json, "\"alpha\":1") != NULL);
    CHECK(strstr(json, "\"beta\":2") != NULL);
    CHECK(strstr(json, "\"sync_revision\":") != NULL);
    CHECK(strstr(json, "\"pending\":") != NULL);
    CHECK(strstr(json, "\"created_at\":\"") != NULL);
    CHECK(strstr(json, "\"updated_at\":\"") != NULL);
    CHECK(strstr(json, "\"deleted_at\":null") != NULL);
    sync_string_free(json);
  }
  CHECK(test_count_documents(a) == 1);

  /* The exact JSON a read answers, escapes included (as the engine's JSON.stringify writes them). */
  {
    char odd[37], expected[1024];
    const char *title = "Q\\\"uote\\\\ \\n\\t\\u0001 \\u001f é✓😀";
    char content[512];
    snprintf(content, sizeof content, "{\"title\":\"%s\",\"n\":1.5,\"list\":[null,true,\"\\u2028\"],\"empty\":{}}", title);
    CHECK(sync_engine_create_document(a, content, odd) == SYNC_RESULT_SUCCESS);
    char *json = get_doc(a, odd);
    REQUIRE(json != NULL);
    /* created_at / updated_at vary: compare around them. */
    snprintf(expected, sizeof expected, "{\"id\":\"%s\",\"title\":\"%s\",\"content\":{\"title\":\"%s\",\"n\":1.5,\"list\":[null,true,\"\u2028\"],\"empty\":{}},"
             "\"sync_revision\":null,\"pending\":1,\"created_at\":\"", odd, title, title);
    CHECK(strncmp(json, expected, strlen(expected)) == 0);
    const char *tail = strstr(json, "\"updated_at\":\"");
    CHECK(tail && strlen(tail) == strlen("\"updated_at\":\"2026-01-01T00:00:00.000Z\",\"deleted_at\":null}") &&
          strcmp(tail + strlen(tail) - strlen("\",\"deleted_at\":null}"), "\",\"deleted_at\":null}") == 0);
    if (strncmp(json, expected, strlen(expected)) != 0) fprintf(stderr, "got      %s\nexpected %s...\n", json, expected);
    /* The same text the engine's own serialisation gives, in the DocumentCreated event. */
    char from_event[512] = "";
    SyncListener *listener = NULL;
    CHECK(sync_engine_add_listener(a, SYNC_EVENT_DOCUMENT_CREATED, remember_content, from_event, &listener) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_process_events(a, NULL) == SYNC_RESULT_SUCCESS);
    sync_listener_remove(listener);
    char content_field[600];
    snprintf(content_field, sizeof content_field, "\"content\":%s,\"sync_revision\"", from_event);
    CHECK(from_event[0] == '{' && strstr(json, content_field) != NULL);
    sync_string_free(json);
    CHECK(sync_engine_delete_document(a, odd) == SYNC_RESULT_SUCCESS);
  }

  /* create_document_with_id: the given id; the same id and content again is a safe retry;
   * the same id with other content is a conflict and changes nothing. */
  char fixed[37];
  random_uuid(fixed);
  CHECK(sync_engine_create_document_with_id(a, fixed, "{\"title\":\"Fixed\",\"n\":7}") == SYNC_RESULT_SUCCESS);
  CHECK(doc_has(a, fixed, "\"n\":7"));
  CHECK(sync_engine_create_document_with_id(a, fixed, "{\"title\":\"Fixed\",\"n\":7}") == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_create_document_with_id(a, fixed, "{\"title\":\"Other\",\"n\":8}") == SYNC_RESULT_CONFLICT);
  CHECK(sync_last_error_message()[0] != '\0');
  CHECK(doc_has(a, fixed, "\"n\":7"));
  CHECK(doc_has(a, fixed, "\"title\":\"Fixed\""));
  CHECK(test_count_documents(a) == 2);

  /* update_document: full replacement, members missing from the new content are removed. */
  CHECK(sync_engine_update_document(a, id, "{\"title\":\"Second\",\"alpha\":5}") == SYNC_RESULT_SUCCESS);
  {
    char *json = get_doc(a, id);
    REQUIRE(json != NULL);
    CHECK(strstr(json, "\"alpha\":5") != NULL);
    CHECK(strstr(json, "\"beta\"") == NULL);
    CHECK(strstr(json, "\"title\":\"Second\"") != NULL);
    sync_string_free(json);
  }

  /* patch_document: RFC 6902 operations. */
  CHECK(sync_engine_patch_document(a, id,
                                   "[{\"op\":\"add\",\"path\":\"/gamma\",\"value\":[1,2]},"
                                   "{\"op\":\"replace\",\"path\":\"/alpha\",\"value\":6},"
                                   "{\"op\":\"test\",\"path\":\"/title\",\"value\":\"Second\"}]") == SYNC_RESULT_SUCCESS);
  {
    char *json = get_doc(a, id);
    REQUIRE(json != NULL);
    CHECK(strstr(json, "\"gamma\":[1,2]") != NULL);
    CHECK(strstr(json, "\"alpha\":6") != NULL);
    sync_string_free(json);
  }

  /* merge_document: RFC 7386, null removes a member, objects merge recursively. */
  CHECK(sync_engine_merge_document(a, id, "{\"alpha\":null,\"delta\":{\"x\":1},\"title\":\"Third\"}") == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_merge_document(a, id, "{\"delta\":{\"y\":2}}") == SYNC_RESULT_SUCCESS);
  {
    char *json = get_doc(a, id);
    REQUIRE(json != NULL);
    CHECK(strstr(json, "\"alpha\"") == NULL);
    CHECK(strstr(json, "\"x\":1") != NULL);
    CHECK(strstr(json, "\"y\":2") != NULL);
    CHECK(strstr(json, "\"gamma\":[1,2]") != NULL);
    CHECK(strstr(json, "\"title\":\"Third\"") != NULL);
    sync_string_free(json);
  }

  /* undo reverts the latest local change, redo re-applies it. */
  CHECK(sync_engine_undo(a, id) == SYNC_RESULT_SUCCESS);
  CHECK(!doc_has(a, id, "\"y\":2"));
  CHECK(doc_has(a, id, "\"x\":1"));
  CHECK(sync_engine_undo(a, id) == SYNC_RESULT_SUCCESS);
  CHECK(doc_has(a, id, "\"alpha\":6"));
  CHECK(doc_has(a, id, "\"title\":\"Second\""));
  CHECK(!doc_has(a, id, "\"delta\""));
  CHECK(sync_engine_redo(a, id) == SYNC_RESULT_SUCCESS);
  CHECK(!doc_has(a, id, "\"alpha\""));
  CHECK(doc_has(a, id, "\"title\":\"Third\""));
  CHECK(doc_has(a, id, "\"x\":1"));
  CHECK(sync_engine_redo(a, id) == SYNC_RESULT_SUCCESS);
  CHECK(doc_has(a, id, "\"y\":2"));
  CHECK(sync_engine_redo(a, id) == SYNC_RESULT_NOT_FOUND); /* nothing left to redo */

  /* get_history: a JSON array with one entry per change, oldest first (create first). */
  {
    char *history = NULL;
    CHECK(sync_engine_get_history(a, id, &history) == SYNC_RESULT_SUCCESS);
    REQUIRE(history != NULL);
    size_t len = strlen(history);
    CHECK(len >= 2 && history[0] == '[' && history[len - 1] == ']');
    /* create, update, patch, 2 merges, 2 undos, 2 redos */
    CHECK(test_count_occurrences(history, "\"kind\":") >= 9);
    const char *create = strstr(history, "\"create\"");
    const char *update = strstr(history, "\"update\"");
    CHECK(create != NULL && update != NULL && create < update);
    CHECK(strstr(history, id) != NULL);
    sync_string_free(history);
  }

  /* get_all_documents: an array of the live documents. */
  {
    char *all = NULL;
    CHECK(sync_engine_get_all_documents(a, &all) == SYNC_RESULT_SUCCESS);
    REQUIRE(all != NULL);
    size_t len = strlen(all);
    CHECK(len >= 2 && all[0] == '[' && all[len - 1] == ']');
    CHECK(strstr(all, id) != NULL);
    CHECK(strstr(all, fixed) != NULL);
    CHECK(test_count_occurrences(all, "\"sync_revision\":") == 2);
    sync_string_free(all);
  }

  /* delete_document: gone from counts and lists, still readable with deleted_at set. */
  CHECK(sync_engine_delete_document(a, fixed) == SYNC_RESULT_SUCCESS);
  CHECK(test_count_documents(a) == 1);
  {
    char *json = get_doc(a, fixed);
    CHECK(json != NULL);
    if (json) {
      CHECK(strstr(json, "\"deleted_at\":\"") != NULL);
      sync_string_free(json);
    }
    char *all = NULL;
    CHECK(sync_engine_get_all_documents(a, &all) == SYNC_RESULT_SUCCESS);
    CHECK(all && strstr(all, fixed) == NULL);
    sync_string_free(all);
  }
  CHECK(sync_engine_delete_document(a, fixed) == SYNC_RESULT_NOT_FOUND);
  CHECK(sync_engine_update_document(a, fixed, "{\"n\":9}") == SYNC_RESULT_NOT_FOUND);

  /* flush: everything reaches the server; the document then carries a server revision. */
  CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
  CHECK(count_pending(a) == 0);
  CHECK(doc_has(a, id, "\"pending\":0"));
  CHECK(!doc_has(a, id, "\"sync_revision\":null"));

  /* A second engine of the same user (sqlite: URL form) gets the same state. */
  char url_b[600];
  snprintf(url_b, sizeof url_b, "sqlite:%s?mode=rwc", test_db_path("docs_b"));
  SyncEngineHandle *b = sync_engine_create(url_b, env.server_url, email, env.api_key, env.api_secret);
  REQUIRE(b != NULL);
  CHECK(sync_engine_flush(b, 20000) == SYNC_RESULT_SUCCESS);
  CHECK(test_count_documents(b) == 1);
  {
    char *json = get_doc(b, id);
    CHECK(json != NULL);
    if (json) {
      CHECK(strstr(json, "\"title\":\"Third\"") != NULL);
      CHECK(strstr(json, "\"x\":1") != NULL);
      CHECK(strstr(json, "\"y\":2") != NULL);
      CHECK(strstr(json, "\"gamma\":[1,2]") != NULL);
      CHECK(strstr(json, "\"alpha\"") == NULL);
      sync_string_free(json);
    }
  }

  /* Offline: local calls keep working and queue up; back online, flush drains them. */
  CHECK(sync_engine_set_online(a, false) == SYNC_RESULT_SUCCESS);
  CHECK(wait_connected(a, false, 5000));
  CHECK(sync_engine_flush(a, 300) == SYNC_RESULT_CONNECTION); /* header: "not connected (e.g. flush while offline)" */
  char offline_id[37];
  CHECK(sync_engine_create_document(a, "{\"title\":\"Offline\",\"o\":1}", offline_id) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_update_document(a, id, "{\"title\":\"Offline edit\",\"z\":1}") == SYNC_RESULT_SUCCESS);
  CHECK(count_pending(a) >= 2);
  CHECK(!doc_has(a, offline_id, "\"pending\":0"));
  CHECK(sync_engine_set_online(a, true) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
  CHECK(count_pending(a) == 0);
  CHECK(wait_connected(a, true, 1000));
  CHECK(sync_engine_flush(b, 20000) == SYNC_RESULT_SUCCESS);
  CHECK(arrives(b, offline_id, "\"o\":1"));
  CHECK(arrives(b, id, "\"title\":\"Offline edit\""));
  CHECK(test_count_documents(b) == 2);

  /* get_conflicts: [] while nothing lost; then b, offline, creates an id a already created:
   * the server keeps a's document and b records the conflict. */
  {
    char *conflicts = NULL;
    CHECK(sync_engine_get_conflicts(a, &conflicts) == SYNC_RESULT_SUCCESS);
    CHECK(conflicts && strcmp(conflicts, "[]") == 0);
    sync_string_free(conflicts);

    char dup[37];
    random_uuid(dup);
    CHECK(sync_engine_set_online(b, false) == SYNC_RESULT_SUCCESS);
    CHECK(wait_connected(b, false, 5000));
    CHECK(sync_engine_create_document_with_id(a, dup, "{\"title\":\"A wins\"}") == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_create_document_with_id(b, dup, "{\"title\":\"B loses\"}") == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_set_online(b, true) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_flush(b, 20000) == SYNC_RESULT_SUCCESS);
    CHECK(sync_engine_get_conflicts(b, &conflicts) == SYNC_RESULT_SUCCESS);
    REQUIRE(conflicts != NULL);
    size_t len = strlen(conflicts);
    CHECK(len >= 2 && conflicts[0] == '[' && conflicts[len - 1] == ']');
    CHECK(strstr(conflicts, dup) != NULL);
    sync_string_free(conflicts);
    CHECK(doc_has(b, dup, "\"title\":\"A wins\""));
  }

  /* create_documents: many in one call, their ids in order; the other engine gets them all. */
  {
    uint64_t before = test_count_documents(a);
    char *ids = NULL;
    CHECK(sync_engine_create_documents(a, "[{\"title\":\"bulk 1\",\"i\":1},{\"title\":\"bulk 2\",\"i\":2},{\"i\":3}]", &ids) == SYNC_RESULT_SUCCESS);
    REQUIRE(ids != NULL);
    /* ["<36>","<36>","<36>"] */
    CHECK(strlen(ids) == 2 + 3 * 38 + 2 && ids[0] == '[' && ids[strlen(ids) - 1] == ']');
    CHECK(test_count_documents(a) == before + 3);
    char bulk[3][37];
    for (int i = 0; i < 3; i++) {
      snprintf(bulk[i], sizeof bulk[i], "%.36s", ids + 2 + i * 39);
      CHECK(is_canonical_uuid(bulk[i]));
      char fragment[16];
      snprintf(fragment, sizeof fragment, "\"i\":%d", i + 1);
      CHECK(doc_has(a, bulk[i], fragment));
    }
    sync_string_free(ids);
    CHECK(sync_engine_create_documents(a, "[]", &ids) == SYNC_RESULT_SUCCESS && ids && strcmp(ids, "[]") == 0);
    sync_string_free(ids);
    /* One refused element: none is written. */
    CHECK(sync_engine_create_documents(a, "[{\"title\":\"not written\"},[]]", &ids) == SYNC_RESULT_INVALID_INPUT && ids == NULL);
    CHECK(test_count_documents(a) == before + 3);
    CHECK(sync_engine_flush(a, 20000) == SYNC_RESULT_SUCCESS);
    for (int i = 0; i < 3; i++) CHECK(arrives(b, bulk[i], "\"pending\":0"));
  }

  sync_engine_destroy(b);
  sync_engine_destroy(a);
  return test_finish("c_api_documents");
}
