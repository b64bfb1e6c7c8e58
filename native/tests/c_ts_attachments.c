/* c_ts_attachments EMAIL — the C end of c_ts_attachments_test.mjs: one engine of EMAIL on the
 * fixture's server. Once connected it says "ready", then it is driven through stdin, one command a
 * line, and answers each with one line on stdout:
 *   add PATH       the file's bytes added from memory (sync_engine_add_attachment)  → "added ID"
 *   add-file PATH  the file added as a file (sync_engine_add_attachment_file)       → "added ID"
 *                  Both check the reference names sha256sum's id of the file and its length, and answer
 *                  once the server has the bytes: the upload's COMPLETED event, then no upload pending.
 *   get ID PATH    fetched (sync_engine_fetch_attachment, its COMPLETED event), read from the local
 *                  database (sync_engine_get_attachment) and written to PATH        → "got ID' LENGTH"
 *   save ID PATH   sync_engine_save_attachment (which downloads) to PATH            → "got ID' LENGTH"
 *                  ID' is sha256sum's id of the bytes received, for the driver to compare with ID.
 *   quit           the engine destroyed, the summary line, exit.
 * Anything failing ends the program at once (REQUIRE): the driver reports the exit. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

/* The outcome events of the one transfer a command waits for (its id occurs in the event's reference). */
typedef struct Transfer {
  char id[72];
  int completed;
  bool upload;
  int failed;
  char error[256];
} Transfer;

static void record(const SyncEventData *e, void *context) {
  Transfer *t = context;
  if (!t->id[0] || !e->content || !strstr(e->content, t->id)) return;
  if (e->event_type == SYNC_EVENT_ATTACHMENT_COMPLETED) {
    t->completed++;
    t->upload = e->boolean_data;
  } else if (e->event_type == SYNC_EVENT_ATTACHMENT_FAILED) {
    t->failed++;
    snprintf(t->error, sizeof t->error, "%s", e->error ? e->error : "");
  }
}

static void expect(Transfer *t, const char *id) {
  REQUIRE(strlen(id) < sizeof t->id);
  memset(t, 0, sizeof *t);
  snprintf(t->id, sizeof t->id, "%.71s", id);
}

static bool finished(void *context) {
  Transfer *t = context;
  return t->completed > 0 || t->failed > 0;
}

typedef struct Upload {
  SyncEngineHandle *engine;
  Transfer *transfer;
} Upload;

static bool uploaded(void *context) {
  Upload *u = context;
  uint64_t pending = 1;
  return finished(u->transfer) && sync_engine_count_pending_attachments(u->engine, &pending) == SYNC_RESULT_SUCCESS && pending == 0;
}

static uint64_t file_length(const char *path) {
  struct stat st;
  REQUIRE(stat(path, &st) == 0);
  return (uint64_t)st.st_size;
}

static void add(SyncEngineHandle *engine, Transfer *transfer, const char *path, bool as_file) {
  char id[72];
  REQUIRE(test_attachment_id_of_file(path, id));
  uint64_t length = file_length(path);
  char *reference = NULL;
  if (as_file) {
    REQUIRE(sync_engine_add_attachment_file(engine, path, NULL, &reference) == SYNC_RESULT_SUCCESS);
  } else {
    size_t read_length = 0;
    unsigned char *bytes = test_read_file(path, &read_length);
    REQUIRE(bytes != NULL && read_length == length);
    REQUIRE(sync_engine_add_attachment(engine, bytes, read_length, NULL, &reference) == SYNC_RESULT_SUCCESS);
    free(bytes);
  }
  char member[96];
  snprintf(member, sizeof member, "\"$attachment\":\"%s\"", id);
  REQUIRE(reference && strstr(reference, member));
  snprintf(member, sizeof member, "\"length\":%llu", (unsigned long long)length);
  REQUIRE(strstr(reference, member));
  sync_string_free(reference);
  expect(transfer, id);
  Upload upload = {engine, transfer};
  REQUIRE(test_pump_until(engine, uploaded, &upload, 60000));
  if (transfer->failed) fprintf(stderr, "upload of %s failed: %s\n", id, transfer->error);
  REQUIRE(transfer->failed == 0 && transfer->upload);
  printf("added %s\n", id);
}

static void get(SyncEngineHandle *engine, Transfer *transfer, const char *id, const char *path) {
  expect(transfer, id);
  REQUIRE(sync_engine_fetch_attachment(engine, id) == SYNC_RESULT_SUCCESS);
  REQUIRE(test_pump_until(engine, finished, transfer, 60000));
  if (transfer->failed) fprintf(stderr, "download of %s failed: %s\n", id, transfer->error);
  REQUIRE(transfer->completed == 1 && !transfer->upload);
  void *bytes = NULL;
  size_t length = 0;
  REQUIRE(sync_engine_get_attachment(engine, id, &bytes, &length) == SYNC_RESULT_SUCCESS);
  REQUIRE(test_write_file(path, bytes, length));
  sync_bytes_free(bytes);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: c_ts_attachments EMAIL (run by c_ts_attachments_test.mjs)\n");
    return 2;
  }
  TestEnv env;
  test_env_load(&env);
  SyncEngineHandle *engine = test_engine(&env, "c_ts", argv[1]);
  REQUIRE(engine != NULL);
  Transfer transfer = {0};
  REQUIRE(sync_engine_add_listener(engine, SYNC_EVENT_ALL, record, &transfer, NULL) == SYNC_RESULT_SUCCESS);
  /* fetch and save refuse while the engine is still connecting */
  REQUIRE(test_pump_until(engine, test_connected, engine, 30000));
  printf("ready\n");
  fflush(stdout);
  char line[2200], command[16], arg1[1024], arg2[1024];
  while (fgets(line, sizeof line, stdin)) {
    int n = sscanf(line, "%15s %1023s %1023s", command, arg1, arg2);
    if (n == 1 && strcmp(command, "quit") == 0) break;
    if (n == 2 && (strcmp(command, "add") == 0 || strcmp(command, "add-file") == 0)) {
      add(engine, &transfer, arg1, strcmp(command, "add-file") == 0);
    } else if (n == 3 && (strcmp(command, "get") == 0 || strcmp(command, "save") == 0)) {
      if (strcmp(command, "get") == 0)
        get(engine, &transfer, arg1, arg2);
      else
        REQUIRE(sync_engine_save_attachment(engine, arg1, arg2) == SYNC_RESULT_SUCCESS);
      char received[72];
      REQUIRE(test_attachment_id_of_file(arg2, received));
      printf("got %s %llu\n", received, (unsigned long long)file_length(arg2));
    } else {
      fprintf(stderr, "c_ts_attachments: unknown command: %s", line);
      return 2;
    }
    fflush(stdout);
  }
  sync_engine_destroy(engine);
  return test_finish("c_ts_attachments");
}
