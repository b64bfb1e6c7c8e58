/* Bad input on every attachment function: NULL engine, NULL out-parameters, NULL bytes with a
 * length, bad content types, NULL / empty / non-UTF-8 / missing / unwritable paths, and attachment
 * ids that are NULL, not UTF-8, the wrong length, upper case, another hash or a document's UUID.
 * Each call returns its code with a message, writes nothing to the caller (out-parameters cleared)
 * and stores nothing (no attachment pending, the file it should have written absent). NULL-safe
 * sync_bytes_free. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static SyncEngineHandle *E;
static char LOCAL[72];  /* an attachment E holds */
static char MISSING[512];
static char EXISTING[512]; /* a readable file */
static char UNWRITABLE[600];
static char DIRECTORY[512];
static char *out_reference;
static void *out_bytes;
static size_t out_length;
static char *out_json;
static uint64_t out_count;

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct Case {
  const char *name;
  int expected; /* a SyncResult */
} Case;

static const char *const bad_ids[] = {
    NULL,
    "",
    "sha256-" HEX64 "0",                              /* 65 digits */
    "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", /* 63 */
    "sha256-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", /* upper case */
    "sha512-" HEX64,
    "sha256-" HEX64 "\xC0\xAF", /* overlong UTF-8 after a valid id */
    "sha256-\xED\xA0\x80" HEX64, /* an encoded surrogate */
    "0b7d3c1e-5f2a-4d8b-9c6e-1a2b3c4d5e6f",
};
#define BAD_IDS ((int)(sizeof bad_ids / sizeof bad_ids[0]))

static const Case fixed_cases[] = {
    {"add(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"add_file(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"get(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"save(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"fetch(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"state(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"count_pending(NULL engine)", SYNC_RESULT_NOT_INITIALIZED},
    {"add(out_reference NULL)", SYNC_RESULT_INVALID_INPUT},
    {"add_file(out_reference NULL)", SYNC_RESULT_INVALID_INPUT},
    {"get(out_bytes NULL)", SYNC_RESULT_INVALID_INPUT},
    {"get(out_length NULL)", SYNC_RESULT_INVALID_INPUT},
    {"state(out_json NULL)", SYNC_RESULT_INVALID_INPUT},
    {"count_pending(out_count NULL)", SYNC_RESULT_INVALID_INPUT},
    {"add(bytes NULL, length 5)", SYNC_RESULT_INVALID_INPUT},
    {"add(content_type not UTF-8)", SYNC_RESULT_INVALID_INPUT},
    {"add(content_type not a MIME type)", SYNC_RESULT_INVALID_INPUT},
    {"add(content_type 300 characters)", SYNC_RESULT_INVALID_INPUT},
    {"add(content_type \"\")", SYNC_RESULT_INVALID_INPUT},
    {"add_file(path NULL)", SYNC_RESULT_INVALID_INPUT},
    {"add_file(path \"\")", SYNC_RESULT_INVALID_INPUT},
    {"add_file(path not UTF-8)", SYNC_RESULT_INVALID_INPUT},
    {"add_file(missing file)", SYNC_RESULT_INVALID_INPUT},
    {"add_file(a directory)", SYNC_RESULT_INVALID_INPUT},
    {"add_file(content_type not a MIME type)", SYNC_RESULT_INVALID_INPUT},
    {"save(path NULL)", SYNC_RESULT_INVALID_INPUT},
    {"save(path \"\")", SYNC_RESULT_INVALID_INPUT},
    {"save(path not UTF-8)", SYNC_RESULT_INVALID_INPUT},
    {"save(unwritable path)", SYNC_RESULT_INVALID_INPUT},
    {"save(a directory)", SYNC_RESULT_INVALID_INPUT},
};
#define FIXED ((int)(sizeof fixed_cases / sizeof fixed_cases[0]))
/* Then, for each bad id: get, save, fetch, state. */
#define CASE_COUNT (FIXED + 4 * BAD_IDS)

static char long_type[301];

static int run_fixed(int i) {
  static const unsigned char five[5] = {1, 2, 3, 4, 5};
  switch (i) {
    case 0: return sync_engine_add_attachment(NULL, five, 5, NULL, &out_reference);
    case 1: return sync_engine_add_attachment_file(NULL, MISSING, NULL, &out_reference);
    case 2: return sync_engine_get_attachment(NULL, LOCAL, &out_bytes, &out_length);
    case 3: return sync_engine_save_attachment(NULL, LOCAL, UNWRITABLE);
    case 4: return sync_engine_fetch_attachment(NULL, LOCAL);
    case 5: return sync_engine_attachment_state(NULL, LOCAL, &out_json);
    case 6: return sync_engine_count_pending_attachments(NULL, &out_count);
    case 7: return sync_engine_add_attachment(E, five, 5, NULL, NULL);
    case 8: return sync_engine_add_attachment_file(E, MISSING, NULL, NULL);
    case 9: return sync_engine_get_attachment(E, LOCAL, NULL, &out_length);
    case 10: return sync_engine_get_attachment(E, LOCAL, &out_bytes, NULL);
    case 11: return sync_engine_attachment_state(E, LOCAL, NULL);
    case 12: return sync_engine_count_pending_attachments(E, NULL);
    case 13: return sync_engine_add_attachment(E, NULL, 5, NULL, &out_reference);
    case 14: return sync_engine_add_attachment(E, five, 5, "image/p\x80ng", &out_reference);
    case 15: return sync_engine_add_attachment(E, five, 5, "not a mime type", &out_reference);
    case 16: return sync_engine_add_attachment(E, five, 5, long_type, &out_reference);
    case 17: return sync_engine_add_attachment(E, five, 5, "", &out_reference);
    case 18: return sync_engine_add_attachment_file(E, NULL, NULL, &out_reference);
    case 19: return sync_engine_add_attachment_file(E, "", NULL, &out_reference);
    case 20: return sync_engine_add_attachment_file(E, "/tmp/\xC0\xAF", NULL, &out_reference);
    case 21: return sync_engine_add_attachment_file(E, MISSING, NULL, &out_reference);
    case 22: return sync_engine_add_attachment_file(E, DIRECTORY, NULL, &out_reference);
    case 23: return sync_engine_add_attachment_file(E, EXISTING, "no mime", &out_reference);
    case 24: return sync_engine_save_attachment(E, LOCAL, NULL);
    case 25: return sync_engine_save_attachment(E, LOCAL, "");
    case 26: return sync_engine_save_attachment(E, LOCAL, "/tmp/\xED\xA0\x80");
    case 27: return sync_engine_save_attachment(E, LOCAL, UNWRITABLE);
    case 28: return sync_engine_save_attachment(E, LOCAL, DIRECTORY);
  }
  return 999;
}

static int run_case(int i) {
  if (i < FIXED) return run_fixed(i);
  const char *id = bad_ids[(i - FIXED) / 4];
  switch ((i - FIXED) % 4) {
    case 0: return sync_engine_get_attachment(E, id, &out_bytes, &out_length);
    case 1: return sync_engine_save_attachment(E, id, UNWRITABLE);
    case 2: return sync_engine_fetch_attachment(E, id);
    default: return sync_engine_attachment_state(E, id, &out_json);
  }
}

static void describe(int i, char *out, size_t size) {
  if (i < FIXED) {
    snprintf(out, size, "%s", fixed_cases[i].name);
    return;
  }
  static const char *const calls[] = {"get", "save", "fetch", "state"};
  snprintf(out, size, "%s(bad id %d)", calls[(i - FIXED) % 4], (i - FIXED) / 4);
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  sync_bytes_free(NULL);
  memset(long_type, 'a', sizeof long_type - 1);
  memcpy(long_type, "image/", 6);

  char email[128];
  test_unique_email(email, sizeof email, "attachments-bad");
  SyncEngineConfig config;
  test_config(&config, &env, "att_bad", email);
  config.start_offline = true; /* nothing uploads: pending counts stay what this test made them */
  REQUIRE(sync_engine_open(&config, &E) == SYNC_RESULT_SUCCESS);
  char *reference = NULL;
  REQUIRE(sync_engine_add_attachment(E, "local", 5, "text/plain", &reference) == SYNC_RESULT_SUCCESS);
  const char *at = strstr(reference, "sha256-");
  REQUIRE(at != NULL);
  snprintf(LOCAL, sizeof LOCAL, "%.71s", at);
  sync_string_free(reference);
  uint64_t pending_before = 0;
  CHECK(sync_engine_count_pending_attachments(E, &pending_before) == SYNC_RESULT_SUCCESS && pending_before == 1);

  snprintf(MISSING, sizeof MISSING, "%s", test_db_path("no-such-file"));
  snprintf(EXISTING, sizeof EXISTING, "%s", test_db_path("existing"));
  REQUIRE(test_write_file(EXISTING, "abc", 3));
  snprintf(DIRECTORY, sizeof DIRECTORY, "%s", test_db_path("a-directory"));
  REQUIRE(mkdir(DIRECTORY, 0700) == 0);
  snprintf(UNWRITABLE, sizeof UNWRITABLE, "%s/no-such-directory/file", DIRECTORY);

  for (int i = 0; i < CASE_COUNT; i++) {
    char name[96];
    describe(i, name, sizeof name);
    int expected = i < FIXED ? fixed_cases[i].expected : SYNC_RESULT_INVALID_INPUT;
    out_reference = (char *)1;
    out_bytes = (void *)1;
    out_length = 77;
    out_json = (char *)1;
    out_count = 77;
    const char *version;
    sync_library_version(&version); /* a success: the last error is "" before each case */
    int r = run_case(i);
    const char *message = sync_last_error_message();
    bool ok = r == expected;
    if (!ok) fprintf(stderr, "%s: result %d, expected %d (%s)\n", name, r, expected, message);
    CHECK(ok);
    if (message[0] == '\0') fprintf(stderr, "%s: no message\n", name);
    CHECK(message[0] != '\0');
    printf("%-48s -> %d %s\n", name, r, message);
    /* Out-parameters the call received are cleared (those it got as NULL stay as they were). */
    bool reference_given = strstr(name, "out_reference NULL") == NULL;
    if ((strncmp(name, "add", 3) == 0) && reference_given) CHECK(out_reference == NULL);
    if (strncmp(name, "get", 3) == 0) {
      if (strstr(name, "out_bytes NULL") == NULL) CHECK(out_bytes == NULL);
      if (strstr(name, "out_length NULL") == NULL) CHECK(out_length == 0);
    }
    if (strncmp(name, "state", 5) == 0 && strstr(name, "out_json NULL") == NULL) CHECK(out_json == NULL);
  }

  /* Nothing was stored, and nothing was written where a save failed. */
  uint64_t pending_after = 0;
  CHECK(sync_engine_count_pending_attachments(E, &pending_after) == SYNC_RESULT_SUCCESS && pending_after == pending_before);
  CHECK(access(UNWRITABLE, F_OK) != 0);
  struct stat st;
  CHECK(stat(DIRECTORY, &st) == 0 && S_ISDIR(st.st_mode));
  /* The engine still works. */
  void *bytes = NULL;
  size_t length = 0;
  CHECK(sync_engine_get_attachment(E, LOCAL, &bytes, &length) == SYNC_RESULT_SUCCESS && length == 5 && memcmp(bytes, "local", 5) == 0);
  sync_bytes_free(bytes);
  sync_engine_destroy(E);
  return test_finish("c_api_attachments_bad_input");
}
