/* seed_harness.h — runs the original README's C and C++ snippets (../shared/seed/snippets), byte for
 * byte as they are, against the ctest fixture's live server.
 *
 * A snippet is a fragment of a program: it leaves `running` to its surroundings, and it connects
 * to "ws://localhost:8080/ws" with the placeholder credentials "rpa_your_api_key_here" /
 * "rps_your_secret_here" as user "user@example.com". Its wrapper file (snippet_NN.c/.cpp) therefore
 * includes this header and everything the snippet uses, then defines a few macros and #includes
 * the snippet file by path:
 *   - `running` becomes seed_running(...), which also starts a second engine of the same user that
 *     creates a document, and ends the loop once the snippet's own callback has printed it;
 *   - the engine constructors the snippet calls (sync_engine_create in C; SyncEngine /
 *     SyncClient::sync_engine in C++) become harness versions that map the placeholders to the
 *     fixture's URL, key and secret (from SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET, which
 *     run_example.sh sets) and "user@example.com" to a user of this run only — the placeholders
 *     cannot reach the random-port test server, and a fresh user means every document the
 *     snippet's engine sees is this run's;
 *   - `main` becomes seed_snippet_main, so the wrapper's own main can check the outcome.
 * Header-only, valid C99 and C++11 (the seed's own compile lines build one file).
 */
#ifndef SEED_HARNESS_H
#define SEED_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sync_client.h"

/* The title of the document the second engine creates; snippet 14's callback prints it. */
#define SEED_PEER_TITLE "Seed harness peer document"

static struct {
  char server_url[256], api_key[128], api_secret[128], email[128];
  char database_url[512]; /* the snippet's engine's, for the check after it returned */
  struct CSyncEngine *peer;
  double deadline_s;
  bool observed, timed_out;
  /* stdout, teed through a pipe so the harness can read what the snippet printed */
  int real_stdout, pipe_read;
  pthread_t reader;
  pthread_mutex_t lock;
  char printed[1 << 16];
  size_t printed_len;
} seed;

static inline double seed_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/** Reads the fixture's values; exits 2 when run outside ctest's fixture. */
static inline void seed_setup(const char *name) {
  const char *url = getenv("SYNC_SERVER_URL"), *key = getenv("SYNC_API_KEY"), *secret = getenv("SYNC_API_SECRET");
  if (!url || !key || !secret) {
    fprintf(stderr, "%s: SYNC_SERVER_URL, SYNC_API_KEY and SYNC_API_SECRET must name a server (run through ctest)\n", name);
    exit(2);
  }
  snprintf(seed.server_url, sizeof seed.server_url, "%s", url);
  snprintf(seed.api_key, sizeof seed.api_key, "%s", key);
  snprintf(seed.api_secret, sizeof seed.api_secret, "%s", secret);
  snprintf(seed.email, sizeof seed.email, "%s-%ld-%ld@example.com", name, (long)getpid(), (long)time(NULL));
  /* The snippets use relative database files: start from none (ctest gives each test its own directory). */
  const char *databases[] = {"client.db", "seed-peer.db", "seed-check.db"};
  const char *suffixes[] = {"", "-wal", "-shm", "-journal", "-lock"};
  char file[64];
  for (size_t d = 0; d < sizeof databases / sizeof databases[0]; d++) {
    for (size_t s = 0; s < sizeof suffixes / sizeof suffixes[0]; s++) {
      snprintf(file, sizeof file, "%s%s", databases[d], suffixes[s]);
      unlink(file);
    }
  }
}

/** The fixture's value for one of the snippets' placeholders; anything else unchanged. */
static inline const char *seed_mapped(const char *value) {
  if (strcmp(value, "ws://localhost:8080/ws") == 0) return seed.server_url;
  if (strcmp(value, "rpa_your_api_key_here") == 0) return seed.api_key;
  if (strcmp(value, "rps_your_secret_here") == 0) return seed.api_secret;
  if (strcmp(value, "user@example.com") == 0) return seed.email;
  return value;
}

/** Notes the snippet's database (for seed_server_has) and passes it on. */
static inline const char *seed_remembered(const char *db_url) {
  snprintf(seed.database_url, sizeof seed.database_url, "%s", db_url);
  return db_url;
}

/** sync_engine_create as the C snippets call it, with the placeholders mapped. */
static inline struct CSyncEngine *seed_engine_create(const char *db_url, const char *server_url, const char *email, const char *api_key,
                                              const char *api_secret) {
  return sync_engine_create(seed_remembered(db_url), seed_mapped(server_url), seed_mapped(email), seed_mapped(api_key), seed_mapped(api_secret));
}

#ifdef __cplusplus
#include <string>

#include "sync_client.hpp"

namespace SyncClient {
/** The engine as the C++ snippets construct it (SyncEngine, SyncClient::sync_engine), with the placeholders mapped. */
class seed_engine : public sync_engine {
 public:
  seed_engine(const std::string &db_url, const std::string &server_url, const std::string &email, const std::string &api_key,
              const std::string &api_secret)
      : sync_engine(seed_remembered(db_url.c_str()), seed_mapped(server_url.c_str()), seed_mapped(email.c_str()), seed_mapped(api_key.c_str()),
                    seed_mapped(api_secret.c_str())) {}
};
}  // namespace SyncClient
#endif

/* ---- stdout tee ------------------------------------------------------------------------------ */

static inline void *seed_tee(void *unused) {
  (void)unused;
  char buf[4096];
  ssize_t n;
  while ((n = read(seed.pipe_read, buf, sizeof buf)) > 0) {
    if (write(seed.real_stdout, buf, (size_t)n) != n) break;
    pthread_mutex_lock(&seed.lock);
    if (seed.printed_len + (size_t)n >= sizeof seed.printed) seed.printed_len = 0; /* keep the newest output */
    memcpy(seed.printed + seed.printed_len, buf, (size_t)n);
    seed.printed_len += (size_t)n;
    seed.printed[seed.printed_len] = '\0';
    pthread_mutex_unlock(&seed.lock);
  }
  return NULL;
}

static inline void seed_capture_stdout(void) {
  int p[2];
  fflush(stdout);
  if (pipe(p) != 0 || (seed.real_stdout = dup(1)) < 0 || dup2(p[1], 1) < 0) {
    perror("seed harness: stdout pipe");
    exit(2);
  }
  close(p[1]);
  seed.pipe_read = p[0];
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_mutex_init(&seed.lock, NULL);
  pthread_create(&seed.reader, NULL, seed_tee, NULL);
}

static inline void seed_release_stdout(void) {
  fflush(stdout);
  dup2(seed.real_stdout, 1); /* closes the pipe's last write end: the reader sees EOF */
  pthread_join(seed.reader, NULL);
  close(seed.pipe_read);
  close(seed.real_stdout);
}

static inline bool seed_printed(const char *text) {
  pthread_mutex_lock(&seed.lock);
  bool found = strstr(seed.printed, text) != NULL;
  pthread_mutex_unlock(&seed.lock);
  return found;
}

/* ---- the snippets' `running` --------------------------------------------------------------------- */

/**
 * The condition of the snippet's main loop. The first call starts the second engine, which creates
 * SEED_PEER_TITLE; the loop ends once the snippet has printed `expected` (its callback saw that
 * document) or after 30 s.
 */
static inline bool seed_running(const char *expected) {
  if (!seed.peer) {
    seed.deadline_s = seed_now_s() + 30;
    seed.peer = sync_engine_create("seed-peer.db", seed.server_url, seed.email, seed.api_key, seed.api_secret);
    char id[SYNC_DOCUMENT_ID_SIZE];
    if (!seed.peer || sync_engine_create_document(seed.peer, "{\"title\":\"" SEED_PEER_TITLE "\"}", id) != SYNC_RESULT_SUCCESS) {
      fprintf(stderr, "seed harness: the second engine failed: %s\n", sync_last_error_message());
      seed.timed_out = true;
      return false;
    }
  }
  if (seed_printed(expected)) {
    seed.observed = true;
    return false;
  }
  if (seed_now_s() > seed.deadline_s) {
    seed.timed_out = true;
    return false;
  }
  return true;
}

/* ---- the check after a snippet that writes documents --------------------------------------------- */

/**
 * True when the server has a document of this run's user containing `needle`. The snippet's
 * engine was destroyed right after its last write, so its database is opened once more to send
 * what may still wait there (documented: the next engine on the file sends it); a fresh engine
 * then reads the user's documents back from the server.
 */
static inline bool seed_server_has(const char *needle) {
  struct CSyncEngine *again = sync_engine_create(seed.database_url, seed.server_url, seed.email, seed.api_key, seed.api_secret);
  bool sent = again && sync_engine_flush(again, 20000) == SYNC_RESULT_SUCCESS;
  sync_engine_destroy(again);
  struct CSyncEngine *check = sync_engine_create("seed-check.db", seed.server_url, seed.email, seed.api_key, seed.api_secret);
  char *all = NULL;
  bool found = sent && check && sync_engine_flush(check, 20000) == SYNC_RESULT_SUCCESS &&
               sync_engine_get_all_documents(check, &all) == SYNC_RESULT_SUCCESS && strstr(all, needle) != NULL;
  if (!found) fprintf(stderr, "seed harness: no document with %s on the server (%s): %s\n", needle, sync_last_error_message(), all ? all : "");
  sync_string_free(all);
  sync_engine_destroy(check);
  return found;
}

/** The verdict line (ctest prints it) and the exit code. */
static inline int seed_finish(const char *name, int snippet_exit, bool ok) {
  sync_engine_destroy(seed.peer);
  bool passed = snippet_exit == 0 && ok;
  fprintf(stderr, "%s: snippet returned %d, %s\n", name, snippet_exit, passed ? "passed" : "FAILED");
  return passed ? 0 : 1;
}

#endif /* SEED_HARNESS_H */
