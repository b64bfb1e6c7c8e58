/*
 * seed_example.c — the plain C example: two engines of one user ("Alice's laptop" and "Alice's
 * desktop", two database files) sync a document through the server.
 *
 *   A creates a document  →  B receives it (SYNC_EVENT_DOCUMENT_CREATED) and answers with an update
 *   →  A receives B's update (SYNC_EVENT_DOCUMENT_UPDATED)  →  exit 0.
 *
 * Both engines are driven from this thread with sync_engine_process_events() in a loop: every event
 * callback runs right here, inside that call. Exits 1 when the round trip did not complete in time.
 *
 *   seed_example_c [SERVER_URL [API_KEY [API_SECRET]]]
 *   (or SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET; SYNC_EMAIL, SYNC_EXAMPLE_TIMEOUT_S optional)
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sync_client_events.h"

typedef struct ExampleState {
    char doc_id[37];       /* the document A created */
    bool b_got_document;   /* B received A's document */
    bool b_replied;        /* B sent its update */
    bool a_got_reply;      /* A received B's update */
    pthread_t main_thread; /* callbacks must run on this thread */
    bool wrong_thread;
} ExampleState;

static const char *config(int argc, char **argv, int index, const char *env_name) {
    if (argc > index && argv[index][0] != '\0') return argv[index];
    return getenv(env_name);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void print_event(const char *side, const SyncEventData *event) {
    printf("[%s] %s", side, sync_event_type_name(event->event_type));
    if (event->document_id) printf(" %s", event->document_id);
    if (event->content) printf(" %s", event->content);
    if (event->error) printf(" (%s)", event->error);
    if (event->document_id) printf(event->boolean_data ? " [local]" : " [remote]");
    printf("\n");
}

/* Engine A's callback: waits for B's update of A's document. */
static void on_event_a(const SyncEventData *event, void *context) {
    ExampleState *state = (ExampleState *)context;
    if (!pthread_equal(pthread_self(), state->main_thread)) state->wrong_thread = true;
    print_event("A", event);
    if (event->event_type == SYNC_EVENT_DOCUMENT_UPDATED && !event->boolean_data && event->document_id &&
        strcmp(event->document_id, state->doc_id) == 0 && event->content && strstr(event->content, "\"reply\"")) {
        state->a_got_reply = true;
    }
}

/* Engine B's callback: waits for A's document. */
static void on_event_b(const SyncEventData *event, void *context) {
    ExampleState *state = (ExampleState *)context;
    if (!pthread_equal(pthread_self(), state->main_thread)) state->wrong_thread = true;
    print_event("B", event);
    if (event->event_type == SYNC_EVENT_DOCUMENT_CREATED && !event->boolean_data && event->document_id &&
        strcmp(event->document_id, state->doc_id) == 0) {
        state->b_got_document = true;
    }
}

static void remove_database(const char *dir, const char *name) {
    static const char *suffixes[] = {"", "-wal", "-shm", "-journal", "-lock"}; /* SQLite's and the engine's */
    char path[1100];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s/%s%s", dir, name, suffixes[i]);
        unlink(path);
    }
}

int main(int argc, char **argv) {
    const char *server_url = config(argc, argv, 1, "SYNC_SERVER_URL");
    const char *api_key = config(argc, argv, 2, "SYNC_API_KEY");
    const char *api_secret = config(argc, argv, 3, "SYNC_API_SECRET");
    const char *email = getenv("SYNC_EMAIL") ? getenv("SYNC_EMAIL") : "seed-c-example@example.com";
    double timeout_s = getenv("SYNC_EXAMPLE_TIMEOUT_S") ? atof(getenv("SYNC_EXAMPLE_TIMEOUT_S")) : 30.0;
    if (!server_url || !api_key || !api_secret) {
        fprintf(stderr, "usage: %s SERVER_URL API_KEY API_SECRET (or set SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET)\n", argv[0]);
        return 2;
    }
    const char *version = NULL;
    sync_library_version(&version);
    printf("libsync_client %s, server %s\n", version, server_url);

    /* Two database files, as two devices of the same user would have. */
    char dir[512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(dir, sizeof dir, "%s/sync-seed-c-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char db_a[700], db_b[700];
    snprintf(db_a, sizeof db_a, "sqlite:%s/a.db?mode=rwc", dir);
    snprintf(db_b, sizeof db_b, "sqlite:%s/b.db?mode=rwc", dir);

    int exit_code = 1;
    ExampleState state;
    memset(&state, 0, sizeof state);
    state.main_thread = pthread_self();

    /* Returns as soon as the local database is open; connecting goes on in the background. */
    SyncEngineConfig config;
    sync_engine_config_init(&config);
    config.server_url = server_url;
    config.email = email;
    config.api_key = api_key;
    config.api_secret = api_secret;
    SyncEngineHandle *a = NULL, *b = NULL;
    config.database_url = db_a;
    SyncResult opened = sync_engine_open(&config, &a);
    config.database_url = db_b;
    if (opened == SYNC_RESULT_SUCCESS) opened = sync_engine_open(&config, &b);
    if (opened != SYNC_RESULT_SUCCESS) {
        fprintf(stderr, "sync_engine_open failed: %s\n", sync_last_error_message());
        goto done;
    }
    sync_engine_add_listener(a, SYNC_EVENT_ALL, on_event_a, &state, NULL); /* NULL: never removed alone */
    sync_engine_add_listener(b, SYNC_EVENT_ALL, on_event_b, &state, NULL);

    /* Works offline too: the document is in A's database now and goes to the server when it can. */
    if (sync_engine_create_document(a, "{\"title\":\"Hello from A\",\"body\":\"written on engine A\"}", state.doc_id) != SYNC_RESULT_SUCCESS) {
        fprintf(stderr, "create_document failed: %s\n", sync_last_error_message());
        goto done;
    }
    printf("A created %s\n", state.doc_id);

    double deadline = now_s() + timeout_s;
    while (!state.a_got_reply && now_s() < deadline) {
        uint32_t processed = 0;
        sync_engine_process_events(a, &processed); /* callbacks run here, on this thread */
        sync_engine_process_events(b, &processed);
        if (state.b_got_document && !state.b_replied) {
            /* Full replacement: the new content is the whole document. */
            if (sync_engine_update_document(b, state.doc_id,
                                            "{\"title\":\"Hello from A\",\"body\":\"written on engine A\",\"reply\":\"B was here\"}") != SYNC_RESULT_SUCCESS) {
                fprintf(stderr, "update_document failed: %s\n", sync_last_error_message());
                goto done;
            }
            state.b_replied = true;
            printf("B updated %s\n", state.doc_id);
        }
        sleep_ms(10); /* a UI would run this from a ~10-60 Hz timer instead */
    }

    if (!state.a_got_reply) {
        fprintf(stderr, "timed out after %.0f s: %s\n", timeout_s,
                state.b_got_document ? "B's update did not reach A" : "A's document did not reach B");
    } else if (state.wrong_thread) {
        fprintf(stderr, "a callback ran on another thread\n");
    } else {
        char *json = NULL;
        if (sync_engine_get_document(a, state.doc_id, &json) == SYNC_RESULT_SUCCESS) {
            printf("A's copy now: %s\n", json);
            exit_code = 0;
        } else {
            fprintf(stderr, "get_document failed: %s\n", sync_last_error_message());
        }
        sync_string_free(json); /* strings returned through char** are the caller's */
    }

done:
    sync_engine_destroy(a); /* NULL-safe; returns within about a second even offline */
    sync_engine_destroy(b);
    remove_database(dir, "a.db");
    remove_database(dir, "b.db");
    rmdir(dir);
    printf("%s\n", exit_code == 0 ? "OK: the document went A -> B -> A" : "FAILED");
    return exit_code;
}
