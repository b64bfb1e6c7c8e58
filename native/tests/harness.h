/* Shared by the C tests: the fixture's server and credentials, temp files, event pumping. */
#ifndef SYNC_TEST_HARNESS_H
#define SYNC_TEST_HARNESS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "sync_client.h"
#include "test_credentials.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct TestEnv {
  char server_url[256];
  char api_key[128];
  char api_secret[128];
  char database_url[512];
  char server_pid[32];
  char server_port[16];
  char cli[512];
} TestEnv;

/** Loads the fixture's file named by $SYNC_TEST_ENV; exits with a message when it is missing. */
void test_env_load(TestEnv *env);

/** A fresh file path for a database, in a per-process temp directory. */
const char *test_db_path(const char *name);

/** "<tag>-<pid>-<time>@example.com": a user no other test run shares. */
void test_unique_email(char *out, size_t size, const char *tag);

/**
 * SYNC_TEST_ENCRYPTION=1 runs the suites on encrypted databases: the 32-byte key test_config() then
 * sets; NULL otherwise.
 */
const uint8_t *test_suite_key(void);

/**
 * A config for the fixture's server and credentials (every other field at its default), on
 * test_db_path(db_name) as `email`. The strings it points to live until the next test_db_path().
 */
void test_config(SyncEngineConfig *config, const TestEnv *env, const char *db_name, const char *email);

/** sync_engine_open of test_config(db_name, email) (encrypted under SYNC_TEST_ENCRYPTION=1); NULL on failure (sync_last_error_message() says why). */
SyncEngineHandle *test_engine(const TestEnv *env, const char *db_name, const char *email);

/** Calls sync_engine_process_events until `done(context)` or the timeout; returns done's last value. */
bool test_pump_until(SyncEngineHandle *engine, bool (*done)(void *), void *context, int timeout_ms);

/** For test_pump_until, with the engine as context: true once it is connected. */
bool test_connected(void *engine);

/** The remote DocumentCreated events an engine received: the last one's id and content, and a count. */
typedef struct TestCreated {
  int created;
  char id[37];
  char content[256];
} TestCreated;

/** A SyncEventCallback filling the TestCreated passed as context. */
void test_record_created(const SyncEventData *event, void *context);

/** For test_pump_until: true once a TestCreated has seen a remote create. */
bool test_got_created(void *context);

/** Milliseconds on a monotonic clock. */
double test_now_ms(void);

/** sync_engine_count_documents, CHECKed; UINT64_MAX when it fails. */
uint64_t test_count_documents(SyncEngineHandle *engine);

/** How many times `needle` occurs in `text` (not overlapping). */
int test_count_occurrences(const char *text, const char *needle);

/** Writes `length` bytes to `path` (created or truncated); false on failure. */
bool test_write_file(const char *path, const void *bytes, size_t length);

/** The file's bytes (malloc'd, never NULL unless it cannot be read: free them) and *length. */
unsigned char *test_read_file(const char *path, size_t *length);

/** "sha256-" and the file's SHA-256 in lowercase hex, by coreutils' sha256sum (independent of the library); false on failure. */
bool test_attachment_id_of_file(const char *path, char out[72]);

extern int test_failures;

#define CHECK(cond)                                                                                         \
  do {                                                                                                      \
    if (!(cond)) {                                                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, sync_last_error_message()); \
      test_failures++;                                                                                      \
    }                                                                                                       \
  } while (0)

#define REQUIRE(cond)                                                                                       \
  do {                                                                                                      \
    if (!(cond)) {                                                                                          \
      fprintf(stderr, "%s:%d: REQUIRE failed: %s (last error: %s)\n", __FILE__, __LINE__, #cond, sync_last_error_message()); \
      exit(1);                                                                                              \
    }                                                                                                       \
  } while (0)

/** Prints the summary line ctest reads and returns the exit code. */
int test_finish(const char *name);

#ifdef __cplusplus
}
#endif

#endif
