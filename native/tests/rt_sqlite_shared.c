/* The library reads the engine's file through the engine's own SQLite, never a copy of its own.
 * 1. The sqlite3_libversion the reads call is the one inside the runtime's better_sqlite3.node, and
 *    it is the only one any loaded object reaches.
 * 2. The hazard that matters (sqlite.org, "How To Corrupt An SQLite Database File", §2.2): closing
 *    a connection of a second SQLite copy drops the process's POSIX locks on the file, the engine's
 *    included. The engine holds a shared lock on the dead-man-switch byte of <db>-shm for as long
 *    as it is open; another process sees it with F_GETLK. After the library opens, reads through
 *    and closes a connection of its own, the lock is still there. As a control, the same through
 *    the system's libsqlite3 (a second copy) drops it — when that library is installed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test_hooks.h"

/* UNIX_SHM_DMS in sqlite3.c: ((22 + SQLITE_SHM_NLOCK) * 4) + SQLITE_SHM_NLOCK. */
#define SHM_DEAD_MAN_SWITCH 128

/** Whether another process sees a lock on the dead-man-switch byte of `shm` (asked from a child: a process never conflicts with its own locks). */
static bool shm_locked_for_others(const char *shm) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(shm, O_RDWR);
    struct flock probe = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SHM_DEAD_MAN_SWITCH, .l_len = 1};
    if (fd < 0 || fcntl(fd, F_GETLK, &probe) != 0) _exit(2);
    _exit(probe.l_type == F_UNLCK ? 1 : 0);
  }
  int status = 0;
  REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) != 2);
  return WEXITSTATUS(status) == 0;
}

/** The value of "key":"..." in `json` (into out), or "". */
static void json_field(const char *json, const char *key, char *out, size_t size) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  const char *start = strstr(json, pattern);
  out[0] = '\0';
  if (!start) return;
  start += strlen(pattern);
  const char *end = strchr(start, '"');
  if (end) snprintf(out, size, "%.*s", (int)(end - start), start);
}

/** Opens `path` with the system's SQLite (a second copy in this process), reads, closes. False when that library is not installed. */
static bool read_with_another_sqlite(const char *path) {
  void *lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return false;
  int (*open_v2)(const char *, void **, int, const char *) = (int (*)(const char *, void **, int, const char *))dlsym(lib, "sqlite3_open_v2");
  int (*exec)(void *, const char *, void *, void *, char **) = (int (*)(void *, const char *, void *, void *, char **))dlsym(lib, "sqlite3_exec");
  int (*close_db)(void *) = (int (*)(void *))dlsym(lib, "sqlite3_close");
  REQUIRE(open_v2 && exec && close_db);
  void *db = NULL;
  CHECK(open_v2(path, &db, 0x00000001 /* SQLITE_OPEN_READONLY */, NULL) == 0);
  CHECK(exec(db, "SELECT count(*) FROM views", NULL, NULL, NULL) == 0);
  close_db(db);
  return true;
}

int main(void) {
  const char *p = test_db_path("shared");
  char path[512], shm[600];
  snprintf(path, sizeof path, "%s", p);
  snprintf(shm, sizeof shm, "%s-shm", path);
  SyncEngineOptions o;
  sync_engine_options_init(&o);
  o.start_offline = true;
  SyncEngineHandle *e = sync_engine_create_with_options(path, "ws://127.0.0.1:1/ws", "shared@example.com", TEST_OFFLINE_API_KEY, TEST_OFFLINE_API_SECRET, &o);
  REQUIRE(e != NULL);
  char id[37];
  CHECK(sync_engine_create_document(e, "{\"title\":\"shared\"}", id) == SYNC_RESULT_SUCCESS);
  char *json = NULL;
  CHECK(sync_engine_get_document(e, id, &json) == SYNC_RESULT_SUCCESS && json && strstr(json, "\"shared\""));
  sync_string_free(json);

  /* 1. One SQLite in the process, and the reads use it. */
  char *origin = NULL;
  REQUIRE(sync_client_test_sqlite_origin(&origin) == SYNC_RESULT_SUCCESS && origin);
  printf("rt_sqlite_shared: %s\n", origin);
  char used_base[32], module_base[32], used_in[512], used[32];
  json_field(origin, "used", used, sizeof used);
  json_field(origin, "used_base", used_base, sizeof used_base);
  json_field(origin, "module_base", module_base, sizeof module_base);
  json_field(origin, "used_in", used_in, sizeof used_in);
  CHECK(used[0] != '\0' && strcmp(used, "(nil)") != 0);
  CHECK(module_base[0] != '\0' && strcmp(used_base, module_base) == 0);
  CHECK(strstr(used_in, "better_sqlite3.node") != NULL);
  CHECK(strstr(origin, "\"definitions\":1,") != NULL);
  sync_string_free(origin);

  /* 2. The engine's lock outlives a connection of the library opened, used and closed. */
  REQUIRE(access(shm, F_OK) == 0);
  CHECK(shm_locked_for_others(shm));
  CHECK(sync_client_test_read_once(e) == SYNC_RESULT_SUCCESS);
  CHECK(shm_locked_for_others(shm));
  CHECK(sync_engine_create_document(e, "{\"title\":\"after\"}", id) == SYNC_RESULT_SUCCESS);
  CHECK(sync_engine_get_document(e, id, &json) == SYNC_RESULT_SUCCESS && json && strstr(json, "\"after\""));
  sync_string_free(json);

  /* The control: a second copy of SQLite does drop it (the engine is not used afterwards). */
  if (read_with_another_sqlite(path)) {
    bool still_locked = shm_locked_for_others(shm);
    printf("rt_sqlite_shared: after a connection of the system's libsqlite3 closed, the engine's lock is %s\n", still_locked ? "still held" : "gone");
    CHECK(!still_locked);
  } else {
    printf("rt_sqlite_shared: libsqlite3.so.0 is not installed: the control with a second SQLite is skipped\n");
  }
  sync_engine_destroy(e);
  return test_finish("rt_sqlite_shared");
}
