/* sync_engine_open when the embedded runtime cannot run says so with SYNC_RESULT_RUNTIME_UNAVAILABLE
 * and a message naming what is missing, and works once it is there (nothing is remembered as failed):
 *   rt_runtime_missing package DIR  — run where DIR (a Debian package's files, e.g.
 *                                     /usr/share/nodejs/undici) is hidden by a bind mount in a private
 *                                     mount namespace (rt_runtime_missing.sh); unmounts it, retries.
 *   rt_runtime_missing bundle LIB   — LIB: a copy of libsync_client.so.1 in a directory without the
 *                                     engine's sync_client/ beside it; dlopens it, then puts the files
 *                                     there (symlinks to SYNC_RUNTIME_DIR) and retries.
 * Needs no server: the engines are offline. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#ifndef SYNC_RUNTIME_DIR
#error "SYNC_RUNTIME_DIR must name the built sync_client/ directory (engine bundle and SQLite module)"
#endif

typedef struct Api {
  SyncResult (*config_init)(SyncEngineConfig *);
  SyncResult (*open)(const SyncEngineConfig *, SyncEngineHandle **);
  void (*destroy)(SyncEngineHandle *);
  const char *(*last_error)(void);
} Api;

/* Opens an offline engine on a fresh file; returns the code, the message in `message`. */
static SyncResult try_open(const Api *api, const char *name, char *message, size_t size) {
  SyncEngineConfig c;
  api->config_init(&c);
  c.database_url = test_db_path(name);
  c.server_url = "ws://127.0.0.1:1/ws";
  c.email = "missing@example.com";
  c.api_key = TEST_OFFLINE_API_KEY;
  c.api_secret = TEST_OFFLINE_API_SECRET;
  c.start_offline = true;
  SyncEngineHandle *e = NULL;
  SyncResult r = api->open(&c, &e);
  snprintf(message, size, "%s", api->last_error());
  printf("open (%s): %d %s\n", name, (int)r, message);
  if (r == SYNC_RESULT_SUCCESS) api->destroy(e);
  else CHECK(e == NULL);
  return r;
}

/* POSIX allows converting dlsym's void * to a function pointer; memcpy keeps -Wpedantic quiet. */
static void load(void *handle, void *field, const char *name) {
  void *sym = dlsym(handle, name);
  if (!sym) {
    fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
    exit(1);
  }
  memcpy(field, &sym, sizeof sym);
}

static void package_missing(const char *hidden) {
  Api api = {sync_engine_config_init, sync_engine_open, sync_engine_destroy, sync_last_error_message};
  char message[512];
  CHECK(try_open(&api, "package", message, sizeof message) == SYNC_RESULT_RUNTIME_UNAVAILABLE);
  CHECK(strstr(message, hidden) != NULL);
  CHECK(strstr(message, "apt-get install") != NULL);
  CHECK(umount(hidden) == 0);
  CHECK(try_open(&api, "package-back", message, sizeof message) == SYNC_RESULT_SUCCESS);
}

static void bundle_missing(const char *library) {
  void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    fprintf(stderr, "dlopen %s: %s\n", library, dlerror());
    exit(1);
  }
  Api api;
  load(handle, &api.config_init, "sync_engine_config_init");
  load(handle, &api.open, "sync_engine_open");
  load(handle, &api.destroy, "sync_engine_destroy");
  load(handle, &api.last_error, "sync_last_error_message");
  char message[512];
  CHECK(try_open(&api, "bundle", message, sizeof message) == SYNC_RESULT_RUNTIME_UNAVAILABLE);
  CHECK(strstr(message, "sync_engine.js") != NULL);
  /* Put the runtime's files beside the library, as the package does, and try again. */
  char beside[512], target[512], link[600];
  snprintf(beside, sizeof beside, "%s", library);
  *strrchr(beside, '/') = '\0';
  strcat(beside, "/sync_client");
  CHECK(mkdir(beside, 0700) == 0);
  const char *files[] = {"sync_engine.js", "better_sqlite3.node"};
  for (int i = 0; i < 2; i++) {
    snprintf(target, sizeof target, "%s/%s", SYNC_RUNTIME_DIR, files[i]);
    snprintf(link, sizeof link, "%s/%s", beside, files[i]);
    CHECK(symlink(target, link) == 0);
  }
  CHECK(try_open(&api, "bundle-back", message, sizeof message) == SYNC_RESULT_SUCCESS);
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "package") != 0 && strcmp(argv[1], "bundle") != 0)) {
    fprintf(stderr, "usage: %s package HIDDEN_DIR | bundle LIBRARY_COPY\n", argv[0]);
    return 2;
  }
  if (strcmp(argv[1], "package") == 0) package_missing(argv[2]);
  else bundle_missing(argv[2]);
  return test_finish(argv[1]);
}
