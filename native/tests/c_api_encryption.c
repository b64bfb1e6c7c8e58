/* Encryption at rest through the C API (offline engines; the fixture's server is only named):
 * - an engine opened with encryption_key writes a file, WAL and -shm holding none of its documents'
 *   text, and its reads (connections of the library's own) return the documents;
 * - a wrong key and a missing key: SYNC_RESULT_WRONG_KEY; a 31-byte key or NULL with a length:
 *   SYNC_RESULT_INVALID_INPUT; the file unchanged, the right key then opens it;
 * - a plain database opened with a key is encrypted; sync_engine_rekey changes the key (reads go on
 *   with the new one) and with NULL decrypts; NULL engine and bad lengths are refused;
 * - a config of the previous version (struct_size ending before encryption_key) opens unencrypted;
 * - the library's copies of a key are zeroed: after a rekey the old key's bytes are nowhere in the
 *   process's memory, and after sync_engine_destroy the new key's neither. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static TestEnv env;

static const char *const SECRET = "Porphyry-Kestrel-Manifest";
/** Key bytes are searched for through this mask: the needle itself is never the key. */
enum { MASK = 0xA5 };

/** Whether any of the database's files holds `text` in its raw bytes. */
static bool files_hold(const char *db, const char *text) {
  const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
    char path[600];
    snprintf(path, sizeof path, "%s%s", db, suffixes[i]);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *bytes = malloc((size_t)size + 1);
    size_t got = fread(bytes, 1, (size_t)size, f);
    fclose(f);
    bool found = memmem(bytes, got, text, strlen(text)) != NULL;
    free(bytes);
    if (found) return true;
  }
  return false;
}

/** Occurrences of the key whose bytes XOR MASK are `masked` in every readable mapping of this process. */
static int key_copies_in_memory(const uint8_t masked[32]) {
  FILE *maps = fopen("/proc/self/maps", "r");
  int mem = open("/proc/self/mem", O_RDONLY);
  if (!maps || mem < 0) return -1;
  static uint8_t chunk[1 << 20];
  char line[512];
  int found = 0;
  while (fgets(line, sizeof line, maps)) {
    unsigned long start, end;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3 || perms[0] != 'r' || strstr(line, "[vvar") || strstr(line, "[vsyscall]")) continue;
    for (unsigned long at = start; at < end; at += sizeof chunk - 31) {
      size_t want = end - at < sizeof chunk ? end - at : sizeof chunk;
      ssize_t got = pread(mem, chunk, want, (off_t)at);
      if (got < 32) break;
      for (ssize_t i = 0; i + 32 <= got; i++) {
        if ((chunk[i] ^ MASK) != masked[0]) continue;
        int k = 1;
        while (k < 32 && (chunk[i + k] ^ MASK) == masked[k]) k++;
        if (k == 32) found++;
      }
      if ((size_t)got < want) break;
    }
  }
  memset(chunk, 0, sizeof chunk);
  fclose(maps);
  close(mem);
  return found;
}

/** A fresh random key in `key`, its masked form in `masked`. */
static void new_key(uint8_t key[32], uint8_t masked[32]) {
  int fd = open("/dev/urandom", O_RDONLY);
  REQUIRE(fd >= 0 && read(fd, key, 32) == 32);
  close(fd);
  for (int i = 0; i < 32; i++) masked[i] = key[i] ^ MASK;
}

static SyncResult open_with(const char *db_name, const uint8_t *key, size_t length, SyncEngineHandle **out) {
  SyncEngineConfig c;
  test_config(&c, &env, db_name, "crypt@example.com");
  c.start_offline = true;
  c.encryption_key = key;
  c.encryption_key_length = length;
  *out = NULL;
  return sync_engine_open(&c, out);
}

static void write_secret(SyncEngineHandle *engine, char id[SYNC_DOCUMENT_ID_SIZE]) {
  char json[128];
  snprintf(json, sizeof json, "{\"title\":\"%s\",\"n\":1}", SECRET);
  REQUIRE(sync_engine_create_document(engine, json, id) == SYNC_RESULT_SUCCESS);
}

static bool reads_secret(SyncEngineHandle *engine, const char *id) {
  char *json = NULL;
  bool ok = sync_engine_get_document(engine, id, &json) == SYNC_RESULT_SUCCESS && strstr(json, SECRET) != NULL;
  sync_string_free(json);
  return ok;
}

int main(void) {
  test_env_load(&env);
  uint8_t key[32], masked[32], key2[32], masked2[32];
  new_key(key, masked);
  new_key(key2, masked2);
  CHECK(key_copies_in_memory(masked) >= 1); /* the search finds a key that is there: this function's own */
  SyncEngineHandle *engine = NULL;
  char id[SYNC_DOCUMENT_ID_SIZE];

  /* Written with a key: no text on disk, reads return it. */
  REQUIRE(open_with("sealed", key, 32, &engine) == SYNC_RESULT_SUCCESS);
  const char *sealed = test_db_path("sealed");
  char sealed_path[600];
  snprintf(sealed_path, sizeof sealed_path, "%s", sealed);
  write_secret(engine, id);
  CHECK(reads_secret(engine, id));
  CHECK(!files_hold(sealed_path, SECRET));
  sync_engine_destroy(engine);
  CHECK(!files_hold(sealed_path, SECRET));

  /* Refusals, then the right key. */
  CHECK(open_with("sealed", key2, 32, &engine) == SYNC_RESULT_WRONG_KEY && engine == NULL);
  CHECK(strstr(sync_last_error_message(), "encryption key does not open") != NULL);
  CHECK(open_with("sealed", NULL, 0, &engine) == SYNC_RESULT_WRONG_KEY && engine == NULL);
  CHECK(strstr(sync_last_error_message(), "is encrypted") != NULL);
  CHECK(open_with("sealed", key, 31, &engine) == SYNC_RESULT_INVALID_INPUT && engine == NULL);
  CHECK(strstr(sync_last_error_message(), "32 bytes (it has 31)") != NULL);
  CHECK(open_with("sealed", NULL, 32, &engine) == SYNC_RESULT_INVALID_INPUT && engine == NULL);
  REQUIRE(open_with("sealed", key, 32, &engine) == SYNC_RESULT_SUCCESS);
  CHECK(reads_secret(engine, id));

  /* Rekey: reads go on with the new key; the old key's bytes are gone from memory. */
  CHECK(sync_engine_rekey(engine, key2, 32) == SYNC_RESULT_SUCCESS);
  CHECK(reads_secret(engine, id));
  memset(key, 0, sizeof key);
  CHECK(key_copies_in_memory(masked) == 0);
  CHECK(sync_engine_rekey(engine, key2, 16) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_rekey(engine, NULL, 32) == SYNC_RESULT_INVALID_INPUT);
  CHECK(sync_engine_rekey(NULL, key2, 32) == SYNC_RESULT_NOT_INITIALIZED);
  CHECK(reads_secret(engine, id));
  sync_engine_destroy(engine);
  CHECK(open_with("sealed", NULL, 0, &engine) == SYNC_RESULT_WRONG_KEY);

  /* The new key opens; after destroy no copy of it is left. */
  REQUIRE(open_with("sealed", key2, 32, &engine) == SYNC_RESULT_SUCCESS);
  CHECK(reads_secret(engine, id));
  sync_engine_destroy(engine);
  memset(key2, 0, sizeof key2);
  CHECK(key_copies_in_memory(masked2) == 0);

  /* A plain file opened with a key is encrypted; rekey(NULL) decrypts. */
  new_key(key, masked);
  REQUIRE(open_with("plain", NULL, 0, &engine) == SYNC_RESULT_SUCCESS);
  char plain_path[600];
  snprintf(plain_path, sizeof plain_path, "%s", test_db_path("plain"));
  write_secret(engine, id);
  sync_engine_destroy(engine);
  CHECK(files_hold(plain_path, SECRET));
  REQUIRE(open_with("plain", key, 32, &engine) == SYNC_RESULT_SUCCESS);
  CHECK(reads_secret(engine, id));
  CHECK(!files_hold(plain_path, SECRET));
  CHECK(sync_engine_rekey(engine, NULL, 0) == SYNC_RESULT_SUCCESS);
  CHECK(reads_secret(engine, id));
  sync_engine_destroy(engine);
  CHECK(files_hold(plain_path, SECRET));

  /* A caller built against the previous SyncEngineConfig (ending with tls_ca_file). */
  SyncEngineConfig old;
  test_config(&old, &env, "previous", "crypt@example.com");
  old.start_offline = true;
  old.struct_size = offsetof(SyncEngineConfig, encryption_key);
  memset(&old.encryption_key, 0xFF, sizeof old.encryption_key); /* garbage past its struct_size is never read */
  old.encryption_key_length = 7;
  REQUIRE(sync_engine_open(&old, &engine) == SYNC_RESULT_SUCCESS);
  write_secret(engine, id);
  sync_engine_destroy(engine);
  CHECK(files_hold(test_db_path("previous"), SECRET));

  return test_finish("c_api_encryption");
}
