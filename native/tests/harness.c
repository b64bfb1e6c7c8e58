#define _GNU_SOURCE
#include "harness.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

int test_failures = 0;

static void copy_value(char *dst, size_t size, const char *line, const char *key) {
  size_t n = strlen(key);
  if (strncmp(line, key, n) == 0 && line[n] == '=') {
    snprintf(dst, size, "%s", line + n + 1);
    dst[strcspn(dst, "\r\n")] = '\0';
  }
}

void test_env_load(TestEnv *env) {
  const char *file = getenv("SYNC_TEST_ENV");
  FILE *f = file ? fopen(file, "r") : NULL;
  if (!f) {
    fprintf(stderr, "no test server: SYNC_TEST_ENV (%s) is not readable; run through ctest\n", file ? file : "unset");
    exit(1);
  }
  memset(env, 0, sizeof *env);
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    copy_value(env->server_url, sizeof env->server_url, line, "SERVER_URL");
    copy_value(env->api_key, sizeof env->api_key, line, "API_KEY");
    copy_value(env->api_secret, sizeof env->api_secret, line, "API_SECRET");
    copy_value(env->database_url, sizeof env->database_url, line, "DATABASE_URL");
    copy_value(env->server_pid, sizeof env->server_pid, line, "SERVER_PID");
    copy_value(env->server_port, sizeof env->server_port, line, "SERVER_PORT");
    copy_value(env->cli, sizeof env->cli, line, "CLI");
  }
  fclose(f);
}

static char test_dir[256];

/* Removes the per-process temp directory; the engines' files are closed by then (runtime shut down first). */
static void remove_test_dir(void) {
  if (!test_dir[0]) return;
  char command[320];
  snprintf(command, sizeof command, "rm -rf '%s'", test_dir);
  if (system(command) != 0) fprintf(stderr, "could not remove %s\n", test_dir);
}

const char *test_db_path(const char *name) {
  static char path[512];
  char *dir = test_dir;
  if (!dir[0]) {
    snprintf(dir, sizeof test_dir, "/tmp/sync-native-test-XXXXXX");
    if (!mkdtemp(dir)) {
      perror("mkdtemp");
      exit(1);
    }
    atexit(remove_test_dir);
  }
  snprintf(path, sizeof path, "%s/%s.db", dir, name);
  return path;
}

void test_unique_email(char *out, size_t size, const char *tag) {
  snprintf(out, size, "%s-%ld-%ld@example.com", tag, (long)getpid(), (long)time(NULL));
}

const uint8_t *test_suite_key(void) {
  static uint8_t key[32];
  for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)(i * 37 + 11);
  const char *on = getenv("SYNC_TEST_ENCRYPTION");
  return on && strcmp(on, "1") == 0 ? key : NULL;
}

void test_config(SyncEngineConfig *config, const TestEnv *env, const char *db_name, const char *email) {
  sync_engine_config_init(config);
  config->encryption_key = test_suite_key();
  config->encryption_key_length = config->encryption_key ? 32 : 0;
  config->database_url = test_db_path(db_name);
  config->server_url = env->server_url;
  config->email = email;
  config->api_key = env->api_key;
  config->api_secret = env->api_secret;
}

SyncEngineHandle *test_engine(const TestEnv *env, const char *db_name, const char *email) {
  SyncEngineConfig config;
  test_config(&config, env, db_name, email);
  SyncEngineHandle *engine = NULL;
  sync_engine_open(&config, &engine);
  return engine;
}

double test_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

bool test_pump_until(SyncEngineHandle *engine, bool (*done)(void *), void *context, int timeout_ms) {
  double deadline = test_now_ms() + timeout_ms;
  while (test_now_ms() < deadline) {
    sync_engine_process_events(engine, NULL);
    if (done(context)) return true;
    usleep(5000);
  }
  sync_engine_process_events(engine, NULL);
  return done(context);
}

bool test_connected(void *engine) {
  bool is = false;
  return sync_engine_is_connected(engine, &is) == SYNC_RESULT_SUCCESS && is;
}

void test_record_created(const SyncEventData *e, void *context) {
  TestCreated *seen = context;
  if (e->event_type != SYNC_EVENT_DOCUMENT_CREATED || e->boolean_data) return;
  seen->created++;
  snprintf(seen->id, sizeof seen->id, "%s", e->document_id);
  snprintf(seen->content, sizeof seen->content, "%s", e->content ? e->content : "");
}

bool test_got_created(void *context) { return ((TestCreated *)context)->created > 0; }

int test_finish(const char *name) {
  int passed = test_failures == 0 ? 1 : 0;
  printf("%s: %d passed, %d failed\n", name, passed, test_failures == 0 ? 0 : 1);
  return test_failures == 0 ? 0 : 1;
}

uint64_t test_count_documents(SyncEngineHandle *engine) {
  uint64_t n = UINT64_MAX;
  CHECK(sync_engine_count_documents(engine, &n) == SYNC_RESULT_SUCCESS);
  return n;
}

int test_count_occurrences(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

bool test_write_file(const char *path, const void *bytes, size_t length) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  bool ok = (length == 0 || fwrite(bytes, 1, length, f) == length);
  return fclose(f) == 0 && ok;
}

unsigned char *test_read_file(const char *path, size_t *length) {
  *length = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t size = 0, capacity = 65536;
  unsigned char *bytes = malloc(capacity);
  size_t got;
  while (bytes && (got = fread(bytes + size, 1, capacity - size, f)) > 0) {
    size += got;
    if (size == capacity) {
      unsigned char *grown = realloc(bytes, capacity *= 2);
      if (!grown) free(bytes);
      bytes = grown;
    }
  }
  fclose(f);
  if (bytes) *length = size;
  return bytes;
}

bool test_attachment_id_of_file(const char *path, char out[72]) {
  char command[600];
  snprintf(command, sizeof command, "sha256sum '%s'", path);
  FILE *p = popen(command, "r");
  if (!p) return false;
  char hex[65] = {0};
  bool ok = fscanf(p, "%64s", hex) == 1 && strlen(hex) == 64;
  ok = pclose(p) == 0 && ok;
  if (ok) snprintf(out, 72, "sha256-%s", hex);
  return ok;
}
