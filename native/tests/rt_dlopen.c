/* What a plug-in host does: dlopen the library by path, use it, dlclose it, dlopen it again and
 * use it again. The library is linked -z nodelete, so the second dlopen finds the same image and
 * the one Node runtime (which cannot be initialised twice) keeps serving. This program does not
 * link libsync_client: everything goes through dlsym. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync_client.h" /* types only */
#include "test_credentials.h"

#ifndef SYNC_CLIENT_LIBRARY_PATH
#error "SYNC_CLIENT_LIBRARY_PATH must name the built libsync_client.so.1"
#endif
#ifndef RT_DLOPEN_WORK_DIR
#define RT_DLOPEN_WORK_DIR "/tmp/sync-rt-dlopen"
#endif

static int failures = 0;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                            \
    }                                                                        \
  } while (0)

typedef struct Api {
  void *handle;
  char *(*get_version)(void);
  const char *(*last_error)(void);
  void (*options_init)(SyncEngineOptions *);
  SyncEngineHandle *(*create_with_options)(const char *, const char *, const char *, const char *, const char *, const SyncEngineOptions *);
  void (*destroy)(SyncEngineHandle *);
  SyncResult (*create_document)(SyncEngineHandle *, const char *, char[37]);
  SyncResult (*count_documents)(SyncEngineHandle *, uint64_t *);
  SyncResult (*register_cb)(SyncEngineHandle *, SyncEventCallback, void *, int);
  SyncResult (*process_events)(SyncEngineHandle *, uint32_t *);
} Api;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* POSIX allows converting dlsym's void * to a function pointer; this spelling keeps -Wpedantic quiet. */
#define LOAD(api, field, name)                                   \
  do {                                                           \
    void *sym = dlsym((api)->handle, name);                      \
    if (!sym) {                                                  \
      fprintf(stderr, "dlsym %s: %s\n", name, dlerror());        \
      exit(1);                                                   \
    }                                                            \
    memcpy(&(api)->field, &sym, sizeof sym);                     \
  } while (0)

static void load(Api *api) {
  memset(api, 0, sizeof *api);
  api->handle = dlopen(SYNC_CLIENT_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!api->handle) {
    fprintf(stderr, "dlopen %s: %s\n", SYNC_CLIENT_LIBRARY_PATH, dlerror());
    exit(1);
  }
  LOAD(api, get_version, "sync_get_version");
  LOAD(api, last_error, "sync_last_error_message");
  LOAD(api, options_init, "sync_engine_options_init");
  LOAD(api, create_with_options, "sync_engine_create_with_options");
  LOAD(api, destroy, "sync_engine_destroy");
  LOAD(api, create_document, "sync_engine_create_document");
  LOAD(api, count_documents, "sync_engine_count_documents");
  LOAD(api, register_cb, "sync_engine_register_event_callback");
  LOAD(api, process_events, "sync_engine_process_events");
  /* Internal symbols stay hidden. */
  CHECK(dlsym(api->handle, "_ZN11sync_client6Bridge8instanceEv") == NULL);
}

/* The database and the files SQLite and the engine keep beside it. */
static void remove_db(const char *path) {
  static const char *suffixes[] = {"", "-wal", "-shm", "-journal", "-lock"};
  char file[600];
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
    unlink(file);
  }
}

static void count_created(const SyncEventData *e, void *context) {
  if (e->event_type == SYNC_EVENT_DOCUMENT_CREATED) (*(int *)context)++;
}

/* Creates an engine on a fresh database, one document, checks the count and the event; returns ms for create. */
static double use_engine(Api *api, const char *db_path, const char *title) {
  SyncEngineOptions o;
  api->options_init(&o);
  o.start_offline = true;
  remove_db(db_path);
  double t0 = now_ms();
  SyncEngineHandle *e = api->create_with_options(db_path, "ws://127.0.0.1:1/ws", "dlopen@example.com", TEST_OFFLINE_API_KEY, TEST_OFFLINE_API_SECRET, &o);
  double create_ms = now_ms() - t0;
  if (!e) {
    fprintf(stderr, "sync_engine_create_with_options failed: %s\n", api->last_error());
    failures++;
    return create_ms;
  }
  int created = 0;
  CHECK(api->register_cb(e, count_created, &created, -1) == SYNC_RESULT_SUCCESS);
  char json[128], id[37];
  snprintf(json, sizeof json, "{\"title\":\"%s\"}", title);
  CHECK(api->create_document(e, json, id) == SYNC_RESULT_SUCCESS);
  CHECK(strlen(id) == 36);
  uint64_t count = 0;
  CHECK(api->count_documents(e, &count) == SYNC_RESULT_SUCCESS && count == 1);
  uint32_t processed = 0;
  CHECK(api->process_events(e, &processed) == SYNC_RESULT_SUCCESS && created == 1);
  api->destroy(e);
  remove_db(db_path);
  return create_ms;
}

int main(void) {
  /* A fixed directory in the build tree: a crashed run's files are removed by the next one. */
  const char *dir = RT_DLOPEN_WORK_DIR;
  mkdir(dir, 0700);
  char db1[512], db2[512];
  snprintf(db1, sizeof db1, "%s/first.db", dir);
  snprintf(db2, sizeof db2, "%s/second.db", dir);

  Api first;
  load(&first);
  CHECK(strcmp(first.get_version(), SYNC_CLIENT_VERSION) == 0);
  double cold = use_engine(&first, db1, "first load");
  void *version_fn = NULL;
  memcpy(&version_fn, &first.get_version, sizeof version_fn);
  CHECK(dlclose(first.handle) == 0);

  /* -z nodelete: still mapped after dlclose. */
  void *still = dlopen(SYNC_CLIENT_LIBRARY_PATH, RTLD_NOW | RTLD_NOLOAD);
  CHECK(still != NULL);
  if (still) dlclose(still);

  Api second;
  load(&second);
  void *version_fn2 = NULL;
  memcpy(&version_fn2, &second.get_version, sizeof version_fn2);
  CHECK(version_fn2 == version_fn); /* the same image, not a fresh copy with a fresh runtime */
  double warm = use_engine(&second, db2, "second load");
  CHECK(dlclose(second.handle) == 0);

  /* A third round, and two engines side by side after reloading, for good measure. */
  Api third;
  load(&third);
  SyncEngineOptions o;
  third.options_init(&o);
  o.start_offline = true;
  SyncEngineHandle *a = third.create_with_options(db1, "ws://127.0.0.1:1/ws", "dlopen@example.com", TEST_OFFLINE_API_KEY, TEST_OFFLINE_API_SECRET, &o);
  SyncEngineHandle *b = third.create_with_options(db2, "ws://127.0.0.1:1/ws", "dlopen@example.com", TEST_OFFLINE_API_KEY, TEST_OFFLINE_API_SECRET, &o);
  CHECK(a != NULL && b != NULL);
  char id[37];
  if (a && b) {
    CHECK(third.create_document(a, "{\"title\":\"a\"}", id) == SYNC_RESULT_SUCCESS);
    CHECK(third.create_document(b, "{\"title\":\"b\"}", id) == SYNC_RESULT_SUCCESS);
  }
  third.destroy(a);
  third.destroy(b);
  dlclose(third.handle);
  remove_db(db1);
  remove_db(db2);
  CHECK(rmdir(dir) == 0);

  printf("rt_dlopen: engine create after the first dlopen %.1f ms (runtime start), after dlclose+dlopen %.1f ms (runtime reused)\n", cold, warm);
  printf("rt_dlopen: %d passed, %d failed\n", failures == 0, failures != 0);
  return failures == 0 ? 0 : 1;
}
