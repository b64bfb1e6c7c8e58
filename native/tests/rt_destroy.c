/* No C call waits for the network:
 * - sync_engine_create returns quickly with the server unreachable (refused, or a listener that
 *   never answers the WebSocket handshake);
 * - sync_engine_destroy returns within 1 s with changes pending and events queued, against both;
 * - documents created while no server runs are pushed once a server starts on that port
 *   (count_pending reaches 0), and the engine survives that server being stopped. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt_util.h"

extern char **environ;

#define PENDING_DOCS 20
#define CREATE_LIMIT_MS 500.0
#define DESTROY_LIMIT_MS 1000.0

static pid_t server_pid = -1;

/* Never leave a server behind, whatever REQUIRE ended the test. */
static void kill_server(void) {
  if (server_pid > 0) {
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
    server_pid = -1;
  }
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

/* A TCP listener that never accepts: connects succeed (the kernel's backlog), the handshake never completes. */
static int black_hole(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
  REQUIRE(listen(fd, 16) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
  *port = ntohs(addr.sin_port);
  return fd;
}

static SyncEngineHandle *timed_create(const char *db, const char *url, const TestEnv *env, double *ms) {
  double t0 = test_now_ms();
  SyncEngineHandle *e = sync_engine_create(db, url, "destroy@example.com", env->api_key, env->api_secret);
  *ms = test_now_ms() - t0;
  return e;
}

static double timed_destroy(SyncEngineHandle *e) {
  double t0 = test_now_ms();
  sync_engine_destroy(e);
  return test_now_ms() - t0;
}

static void create_docs(SyncEngineHandle *e, int n, const char *tag) {
  char id[37], json[128];
  for (int i = 0; i < n; i++) {
    snprintf(json, sizeof json, "{\"title\":\"%s %d\",\"n\":%d}", tag, i, i);
    CHECK(sync_engine_create_document(e, json, id) == SYNC_RESULT_SUCCESS);
  }
}

static uint64_t pending_of(SyncEngineHandle *e) {
  uint64_t n = 999999;
  if (sync_engine_count_pending(e, &n) != SYNC_RESULT_SUCCESS) return 999999;
  return n;
}

/* Destroy with changes pending and events never processed, against a server that cannot be reached. */
static void unreachable(const char *label, const char *url, const TestEnv *env) {
  double create_ms;
  char name[64];
  snprintf(name, sizeof name, "unreachable-%s", label);
  SyncEngineHandle *e = timed_create(test_db_path(name), url, env, &create_ms);
  REQUIRE(e != NULL);
  create_docs(e, PENDING_DOCS, label);
  CHECK(pending_of(e) == PENDING_DOCS);
  usleep(300 * 1000); /* let a connection attempt be in flight */
  double destroy_ms = timed_destroy(e);
  printf("rt_destroy: %s (%s): create %.1f ms, destroy with %d pending %.1f ms\n", label, url, create_ms, PENDING_DOCS, destroy_ms);
  CHECK(create_ms < CREATE_LIMIT_MS);
  CHECK(destroy_ms < DESTROY_LIMIT_MS);
}

static pid_t start_server(const TestEnv *env, int port, const char *log_path) {
  char port_text[16], db_env[600];
  snprintf(port_text, sizeof port_text, "%d", port);
  snprintf(db_env, sizeof db_env, "DATABASE_URL=%s", env->database_url);
  /* The environment, with DATABASE_URL and LOG_LEVEL replaced. */
  size_t n = 0;
  while (environ[n]) n++;
  char **envp = calloc(n + 3, sizeof *envp);
  REQUIRE(envp != NULL);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "DATABASE_URL=", 13) != 0 && strncmp(environ[i], "LOG_LEVEL=", 10) != 0) envp[k++] = environ[i];
  envp[k++] = db_env;
  envp[k++] = "LOG_LEVEL=warn";
  envp[k] = NULL;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  char *argv[] = {"node", (char *)env->cli, "serve", "--host", "127.0.0.1", "--port", port_text, NULL};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "node", &actions, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  free(envp);
  if (rc != 0) {
    fprintf(stderr, "posix_spawnp node: %s\n", strerror(rc));
    return -1;
  }
  return pid;
}

static void print_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) fprintf(stderr, "  server: %s", line);
  fclose(f);
}

/* Stops the server with SIGTERM and waits for it (SIGKILL after 10 s). Returns ms, or -1 when it had to be killed. */
static double stop_server(void) {
  double t0 = test_now_ms();
  if (server_pid <= 0) return -1;
  kill(server_pid, SIGTERM);
  while (test_now_ms() - t0 < 10000) {
    int status;
    pid_t r = waitpid(server_pid, &status, WNOHANG);
    if (r == server_pid || (r < 0 && errno == ECHILD)) {
      server_pid = -1;
      return test_now_ms() - t0;
    }
    usleep(20 * 1000);
  }
  kill_server();
  return -1;
}

int main(void) {
  TestEnv env;
  test_env_load(&env);
  REQUIRE(env.cli[0] && env.database_url[0]);
  atexit(kill_server);

  /* 1. Nothing listens on this port yet. The first create also starts the runtime. */
  int port = free_port();
  char url[128];
  snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", port);
  double cold_ms;
  SyncEngineHandle *offline = timed_create(test_db_path("offline"), url, &env, &cold_ms);
  REQUIRE(offline != NULL);
  printf("rt_destroy: first sync_engine_create (runtime start included), no server on %d: %.1f ms\n", port, cold_ms);
  create_docs(offline, PENDING_DOCS, "offline");
  CHECK(pending_of(offline) == PENDING_DOCS);
  bool connected = true;
  CHECK(sync_engine_is_connected(offline, &connected) == SYNC_RESULT_SUCCESS && !connected);

  /* 2. Unreachable servers: connection refused, and a listener that never answers. */
  unreachable("refused", "ws://127.0.0.1:1/ws", &env);
  int hole_port;
  int hole = black_hole(&hole_port);
  char hole_url[128];
  snprintf(hole_url, sizeof hole_url, "ws://127.0.0.1:%d/ws", hole_port);
  unreachable("silent", hole_url, &env);
  /* The offline engine's own attempts never blocked a call either. */
  double t0 = test_now_ms();
  CHECK(pending_of(offline) == PENDING_DOCS);
  CHECK(test_now_ms() - t0 < 100);

  /* 3. Start a server on the port: the pending documents go out. */
  char log_path[600];
  snprintf(log_path, sizeof log_path, "%s", test_db_path("server"));
  strcpy(log_path + strlen(log_path) - 3, ".log");
  double spawn_at = test_now_ms();
  server_pid = start_server(&env, port, log_path);
  REQUIRE(server_pid > 0);
  uint64_t pending = PENDING_DOCS;
  double deadline = test_now_ms() + 45000;
  while (test_now_ms() < deadline) {
    sync_engine_process_events(offline, NULL);
    pending = pending_of(offline);
    if (pending == 0) break;
    int status;
    if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
      server_pid = -1;
      fprintf(stderr, "the server exited early (status %d):\n", status);
      print_file(log_path);
      break;
    }
    usleep(20 * 1000);
  }
  printf("rt_destroy: server started on %d; count_pending %d -> %llu after %.1f s\n", port, PENDING_DOCS, (unsigned long long)pending,
         (test_now_ms() - spawn_at) / 1000);
  CHECK(pending == 0);
  if (pending != 0) print_file(log_path);
  CHECK(sync_engine_is_connected(offline, &connected) == SYNC_RESULT_SUCCESS && connected);
  CHECK(sync_engine_flush(offline, 5000) == SYNC_RESULT_SUCCESS);

  /* 4. The test stops its server; the engine keeps working locally and still destroys in time. */
  double stop_ms = stop_server();
  printf("rt_destroy: server stopped with SIGTERM in %.1f ms\n", stop_ms);
  CHECK(stop_ms >= 0);
  create_docs(offline, 3, "after stop");
  CHECK(pending_of(offline) == 3);
  double warm_ms;
  SyncEngineHandle *again = timed_create(test_db_path("again"), url, &env, &warm_ms);
  CHECK(again != NULL);
  printf("rt_destroy: sync_engine_create with the server gone: %.1f ms\n", warm_ms);
  CHECK(warm_ms < CREATE_LIMIT_MS);
  double d1 = timed_destroy(again);
  double d2 = timed_destroy(offline);
  printf("rt_destroy: destroy after the server stopped: %.1f ms, with 3 pending %.1f ms\n", d1, d2);
  CHECK(d1 < DESTROY_LIMIT_MS);
  CHECK(d2 < DESTROY_LIMIT_MS);
  close(hole);
  return test_finish("rt_destroy");
}
