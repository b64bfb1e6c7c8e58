/* The database's encryption key kept in the desktop's keyring (Linux: the Secret Service, through
 * libsecret — GNOME Keyring, KWallet): the first run makes a random 32-byte key and stores it there;
 * every run reads it back, opens the engine with it and zeroes its own copies. The key never
 * touches a file, a log or the command line. See FRAMEWORK_INTEGRATION.md, "Keeping the key".
 *
 *   SYNC_SERVER_URL=ws://... SYNC_API_KEY=rpa_... SYNC_API_SECRET=rps_... ./libsecret_key tasks.db
 *
 * Needs a session bus with a Secret Service (a desktop session); libsecret-1-dev to build. */
#include <libsecret/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "sync_client.h"

/* One item per database file: the attribute tells the keyring which. */
static const SecretSchema KEY_SCHEMA = {
    "org.jsonsync.DatabaseKey", SECRET_SCHEMA_NONE, {{"database", SECRET_SCHEMA_ATTRIBUTE_STRING}, {NULL, 0}}, 0, 0, 0, 0, 0, 0, 0, 0};

/* The keyring stores text: the key as 64 hex digits. */
static void to_hex(const uint8_t key[32], char hex[65]) {
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
}

static int from_hex(const char *hex, uint8_t key[32]) {
  if (strlen(hex) != 64) return -1;
  for (int i = 0; i < 32; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
    key[i] = (uint8_t)v;
  }
  return 0;
}

/* The database's key from the keyring, made and stored first if there is none. 0 on success. */
static int database_key(const char *database, uint8_t key[32]) {
  GError *error = NULL;
  gchar *stored = secret_password_lookup_sync(&KEY_SCHEMA, NULL, &error, "database", database, NULL);
  if (error) {
    fprintf(stderr, "keyring: %s\n", error->message);
    g_error_free(error);
    return -1;
  }
  if (stored) {
    int bad = from_hex(stored, key);
    secret_password_free(stored); /* libsecret wipes the text before freeing it */
    if (bad) fprintf(stderr, "keyring: the stored key for %s is not 64 hex digits\n", database);
    return bad;
  }
  if (getrandom(key, 32, 0) != 32) return -1;
  char hex[65];
  to_hex(key, hex);
  char label[4200];
  snprintf(label, sizeof label, "json-sync database key (%s)", database);
  gboolean saved = secret_password_store_sync(&KEY_SCHEMA, SECRET_COLLECTION_DEFAULT, label, hex, NULL, &error, "database", database, NULL);
  explicit_bzero(hex, sizeof hex);
  if (!saved) {
    fprintf(stderr, "keyring: %s\n", error ? error->message : "not stored");
    if (error) g_error_free(error);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *database = argc > 1 ? argv[1] : "tasks.db";
  const char *url = getenv("SYNC_SERVER_URL"), *api_key = getenv("SYNC_API_KEY"), *api_secret = getenv("SYNC_API_SECRET");
  if (!url || !api_key || !api_secret) {
    fprintf(stderr, "set SYNC_SERVER_URL, SYNC_API_KEY and SYNC_API_SECRET\n");
    return 2;
  }
  /* One keyring item per file, whatever the working directory (the file may not exist yet). */
  char path[4096], cwd[4000];
  if (database[0] == '/' || !getcwd(cwd, sizeof cwd)) snprintf(path, sizeof path, "%s", database);
  else snprintf(path, sizeof path, "%s/%s", cwd, database);
  uint8_t key[32];
  if (database_key(path, key) != 0) return 1;

  SyncEngineConfig config;
  sync_engine_config_init(&config);
  config.database_url = database;
  config.server_url = url;
  config.email = getenv("SYNC_EMAIL") ? getenv("SYNC_EMAIL") : "user@example.com";
  config.api_key = api_key;
  config.api_secret = api_secret;
  config.encryption_key = key;
  config.encryption_key_length = sizeof key;
  SyncEngineHandle *engine = NULL;
  SyncResult opened = sync_engine_open(&config, &engine);
  explicit_bzero(key, sizeof key); /* the library has its own copy, which it zeroes when done */
  if (opened == SYNC_RESULT_WRONG_KEY) {
    fprintf(stderr, "%s is encrypted with another key than the keyring's: %s\n", database, sync_last_error_message());
    return 1;
  }
  if (opened != SYNC_RESULT_SUCCESS) {
    fprintf(stderr, "open failed (%d): %s\n", (int)opened, sync_last_error_message());
    return 1;
  }
  uint64_t documents = 0;
  sync_engine_count_documents(engine, &documents);
  printf("%s: encrypted, %llu documents\n", database, (unsigned long long)documents);
  sync_engine_destroy(engine);
  return 0;
}
