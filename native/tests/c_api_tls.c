/* tls_ca_file against the real sync server over TLS (wss://), its certificate signed by a throwaway
 * CA (tls-fixture.mjs starts it, and checks afterwards that only the trusted engines' users exist):
 * - trusting that CA, as a file or as PEM text: two engines of one user sync a document over wss://;
 * - trusting another CA, or only the system's: SYNC_EVENT_CONNECTION_LOST with an error starting
 *   "TLS:" through process_events, and never connected — though NODE_EXTRA_CA_CERTS names the
 *   signing CA: the embedded runtime reads no Node environment variables. */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "harness.h"

typedef struct Seen {
  int succeeded;
  int tls_refusals;
  char error[512];
} Seen;

static void on_connection(const SyncEventData *e, void *context) {
  Seen *s = context;
  if (e->event_type == SYNC_EVENT_CONNECTION_SUCCEEDED) s->succeeded++;
  if (e->event_type == SYNC_EVENT_CONNECTION_LOST && e->error && strncmp(e->error, "TLS: ", 5) == 0) {
    s->tls_refusals++;
    snprintf(s->error, sizeof s->error, "%s", e->error);
  }
}

static bool succeeded(void *c) { return ((Seen *)c)->succeeded > 0; }
static bool refused(void *c) { return ((Seen *)c)->tls_refusals > 0; }
static bool never(void *c) { return ((Seen *)c)->succeeded > 0; }

static SyncEngineHandle *open_engine(const char *name, const char *email, const char *ca, Seen *seen) {
  SyncEngineConfig c;
  sync_engine_config_init(&c);
  c.database_url = test_db_path(name);
  c.server_url = getenv("TLS_SERVER_URL");
  c.email = email;
  c.api_key = getenv("TLS_API_KEY");
  c.api_secret = getenv("TLS_API_SECRET");
  c.reconnect_min_ms = 100;
  c.reconnect_max_ms = 300;
  c.tls_ca_file = ca;
  SyncEngineHandle *e = NULL;
  SyncResult r = sync_engine_open(&c, &e);
  if (r != SYNC_RESULT_SUCCESS) fprintf(stderr, "open %s: %d %s\n", name, (int)r, sync_last_error_message());
  if (e) CHECK(sync_engine_add_listener(e, SYNC_EVENT_ALL, on_connection, seen, NULL) == SYNC_RESULT_SUCCESS);
  return e;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  REQUIRE(f != NULL);
  static char text[16384];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  return text;
}

/* Two engines of one user trusting `ca`: a document created on one reaches the other over wss://. */
static void trusted(const char *name, const char *email, const char *ca) {
  char writer_name[64], reader_name[64];
  snprintf(writer_name, sizeof writer_name, "%s-writer", name);
  snprintf(reader_name, sizeof reader_name, "%s-reader", name);
  Seen writer_seen = {0}, reader_seen = {0};
  SyncEngineHandle *writer = open_engine(writer_name, email, ca, &writer_seen);
  SyncEngineHandle *reader = open_engine(reader_name, email, ca, &reader_seen);
  REQUIRE(writer != NULL && reader != NULL);
  TestCreated created = {0};
  CHECK(sync_engine_add_listener(reader, SYNC_EVENT_DOCUMENT_CREATED, test_record_created, &created, NULL) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(writer, succeeded, &writer_seen, 15000));
  CHECK(test_pump_until(reader, succeeded, &reader_seen, 15000));
  bool connected = false;
  CHECK(sync_engine_is_connected(writer, &connected) == SYNC_RESULT_SUCCESS && connected);
  char id[SYNC_DOCUMENT_ID_SIZE];
  CHECK(sync_engine_create_document(writer, "{\"title\":\"over wss\"}", id) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_flush(writer, 15000) == SYNC_RESULT_SUCCESS);
  CHECK(test_pump_until(reader, test_got_created, &created, 15000));
  CHECK(strcmp(created.id, id) == 0);
  CHECK(writer_seen.tls_refusals == 0 && reader_seen.tls_refusals == 0);
  printf("c_api_tls: %s: synced %s over TLS\n", name, created.id);
  sync_engine_destroy(reader);
  sync_engine_destroy(writer);
}

static void untrusted(const char *name, const char *email, const char *ca) {
  Seen seen = {0};
  SyncEngineHandle *e = open_engine(name, email, ca, &seen);
  REQUIRE(e != NULL);
  CHECK(test_pump_until(e, refused, &seen, 15000));
  printf("c_api_tls: %s: %s\n", name, seen.error);
  /* It keeps retrying, and keeps being refused: never connected. */
  CHECK(!test_pump_until(e, never, &seen, 1500));
  CHECK(seen.tls_refusals >= 2);
  bool connected = true;
  CHECK(sync_engine_is_connected(e, &connected) == SYNC_RESULT_SUCCESS && !connected);
  /* Local work goes on meanwhile. */
  char id[37];
  CHECK(sync_engine_create_document(e, "{\"title\":\"kept locally\"}", id) == SYNC_RESULT_SUCCESS);
  sync_engine_destroy(e);
}

int main(void) {
  const char *ca = getenv("TLS_CA_FILE"), *other = getenv("TLS_OTHER_CA_FILE");
  if (!ca || !other || !getenv("TLS_SERVER_URL") || !getenv("TLS_API_KEY")) {
    fprintf(stderr, "run through tls-fixture.mjs (ctest -R c_api_tls)\n");
    return 1;
  }
  trusted("ca-file", "trusted-file@example.com", ca);
  trusted("ca-text", "trusted-text@example.com", read_file(ca));
  untrusted("other-ca", "untrusted-other@example.com", other);
  untrusted("system-only", "untrusted-system@example.com", NULL);
  return test_finish("c_api_tls");
}
