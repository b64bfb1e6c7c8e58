/*
 * glib_example.c — a GLib main loop (as in a GTK application) driving two engines of one user.
 *
 *   A creates a document  →  B receives it and answers with an update  →  A receives B's update  →  exit 0.
 *
 * Two ways to run sync_engine_process_events() on the loop's thread, both shown:
 * - g_unix_fd_add() on sync_engine_get_event_fd()'s fd: the fd is readable while events wait, so the loop
 *   wakes up as soon as an event is queued (no latency, no idle wake-ups);
 * - g_timeout_add(): a plain periodic poll, here as a safety net (and the portable choice where no
 *   fd can be watched).
 * Every callback therefore runs on the thread that runs the GMainLoop. Exits 1 on timeout.
 *
 *   glib_example [SERVER_URL [API_KEY [API_SECRET]]]
 *   (or SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET; SYNC_EMAIL, SYNC_EXAMPLE_TIMEOUT_S optional)
 */
#include <glib-unix.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_client_events.h"

typedef struct Example {
    GMainLoop *loop;
    GThread *loop_thread;
    SyncEngineHandle *a, *b;
    char doc_id[37];
    gboolean b_got_document, a_got_reply, wrong_thread, failed;
    guint fd_wakeups, timer_polls;
} Example;

static void print_event(const char *side, const SyncEventData *event) {
    g_print("[%s] %s", side, sync_event_type_name(event->event_type));
    if (event->document_id) g_print(" %s", event->document_id);
    if (event->content) g_print(" %s", event->content);
    if (event->error) g_print(" (%s)", event->error);
    if (event->document_id) g_print(event->boolean_data ? " [local]" : " [remote]");
    g_print("\n");
}

static void on_event_a(const SyncEventData *event, void *context) {
    Example *ex = context;
    if (g_thread_self() != ex->loop_thread) ex->wrong_thread = TRUE;
    print_event("A", event);
    if (event->event_type == SYNC_EVENT_DOCUMENT_UPDATED && !event->boolean_data && g_strcmp0(event->document_id, ex->doc_id) == 0 &&
        event->content && strstr(event->content, "\"reply\"")) {
        ex->a_got_reply = TRUE;
        g_main_loop_quit(ex->loop);
    }
}

static void on_event_b(const SyncEventData *event, void *context) {
    Example *ex = context;
    if (g_thread_self() != ex->loop_thread) ex->wrong_thread = TRUE;
    print_event("B", event);
    if (event->event_type == SYNC_EVENT_DOCUMENT_CREATED && !event->boolean_data && g_strcmp0(event->document_id, ex->doc_id) == 0 &&
        !ex->b_got_document) {
        ex->b_got_document = TRUE;
        /* A callback may call any sync_* function (except destroying its own engine). */
        if (sync_engine_update_document(ex->b, ex->doc_id,
                                        "{\"title\":\"Hello from A\",\"body\":\"written on engine A\",\"reply\":\"B was here\"}") != SYNC_RESULT_SUCCESS) {
            g_printerr("update_document failed: %s\n", sync_last_error_message());
            ex->failed = TRUE;
            g_main_loop_quit(ex->loop);
            return;
        }
        g_print("B updated %s\n", ex->doc_id);
    }
}

/* One engine's event fd, watched by the loop. */
typedef struct FdWatch {
    Example *ex;
    SyncEngineHandle *engine;
} FdWatch;

/* The engine's event fd became readable: deliver what waits (this drains the fd). */
static gboolean on_fd_ready(gint fd, GIOCondition condition, gpointer data) {
    (void)fd;
    (void)condition;
    FdWatch *watch = data;
    watch->ex->fd_wakeups++;
    sync_engine_process_events(watch->engine, NULL);
    return G_SOURCE_CONTINUE;
}

/* The periodic poll: cheap when nothing waits. */
static gboolean on_timer(gpointer data) {
    Example *ex = data;
    ex->timer_polls++;
    sync_engine_process_events(ex->a, NULL);
    sync_engine_process_events(ex->b, NULL);
    return G_SOURCE_CONTINUE;
}

static gboolean on_deadline(gpointer data) {
    Example *ex = data;
    g_printerr("timed out: %s\n", ex->b_got_document ? "B's update did not reach A" : "A's document did not reach B");
    g_main_loop_quit(ex->loop);
    return G_SOURCE_REMOVE;
}

static const char *config(int argc, char **argv, int index, const char *env_name) {
    if (argc > index && argv[index][0] != '\0') return argv[index];
    return g_getenv(env_name);
}

static void remove_database(const char *dir, const char *name) {
    static const char *suffixes[] = {"", "-wal", "-shm", "-journal", "-lock"}; /* SQLite's and the engine's */
    for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        char *path = g_strdup_printf("%s/%s%s", dir, name, suffixes[i]);
        g_remove(path);
        g_free(path);
    }
}

int main(int argc, char **argv) {
    const char *server_url = config(argc, argv, 1, "SYNC_SERVER_URL");
    const char *api_key = config(argc, argv, 2, "SYNC_API_KEY");
    const char *api_secret = config(argc, argv, 3, "SYNC_API_SECRET");
    const char *email = g_getenv("SYNC_EMAIL") ? g_getenv("SYNC_EMAIL") : "glib-example@example.com";
    double timeout_s = g_getenv("SYNC_EXAMPLE_TIMEOUT_S") ? g_ascii_strtod(g_getenv("SYNC_EXAMPLE_TIMEOUT_S"), NULL) : 30.0;
    if (!server_url || !api_key || !api_secret) {
        g_printerr("usage: %s SERVER_URL API_KEY API_SECRET (or set SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET)\n", argv[0]);
        return 2;
    }
    const char *version = NULL;
    sync_library_version(&version);
    g_print("libsync_client %s, GLib %u.%u, server %s\n", version, glib_major_version, glib_minor_version, server_url);

    GError *error = NULL;
    char *dir = g_dir_make_tmp("sync-glib-XXXXXX", &error);
    if (!dir) {
        g_printerr("%s\n", error->message);
        return 1;
    }
    char *db_a = g_strdup_printf("sqlite:%s/a.db?mode=rwc", dir);
    char *db_b = g_strdup_printf("%s/b.db", dir); /* a plain path works too */

    Example ex = {0};
    ex.loop = g_main_loop_new(NULL, FALSE);
    ex.loop_thread = g_thread_self();
    SyncEngineConfig config;
    sync_engine_config_init(&config);
    config.server_url = server_url;
    config.email = email;
    config.api_key = api_key;
    config.api_secret = api_secret;
    guint sources[4] = {0};
    int fd_a = -1, fd_b = -1;
    config.database_url = db_a;
    SyncResult opened = sync_engine_open(&config, &ex.a);
    config.database_url = db_b;
    if (opened == SYNC_RESULT_SUCCESS) opened = sync_engine_open(&config, &ex.b);
    FdWatch watch_a = {&ex, ex.a}, watch_b = {&ex, ex.b};
    if (opened != SYNC_RESULT_SUCCESS) {
        g_printerr("sync_engine_open failed: %s\n", sync_last_error_message());
        ex.failed = TRUE;
        goto done;
    }
    sync_engine_add_listener(ex.a, SYNC_EVENT_ALL, on_event_a, &ex, NULL);
    sync_engine_add_listener(ex.b, SYNC_EVENT_ALL, on_event_b, &ex, NULL);

    /* The fds are the engines' own: watch them, never read or close them. */
    sync_engine_get_event_fd(ex.a, &fd_a);
    sync_engine_get_event_fd(ex.b, &fd_b);
    sources[0] = g_unix_fd_add(fd_a, G_IO_IN, on_fd_ready, &watch_a);
    sources[1] = g_unix_fd_add(fd_b, G_IO_IN, on_fd_ready, &watch_b);
    sources[2] = g_timeout_add(250, on_timer, &ex);
    sources[3] = g_timeout_add((guint)(timeout_s * 1000), on_deadline, &ex);

    if (sync_engine_create_document(ex.a, "{\"title\":\"Hello from A\",\"body\":\"written on engine A\"}", ex.doc_id) != SYNC_RESULT_SUCCESS) {
        g_printerr("create_document failed: %s\n", sync_last_error_message());
        ex.failed = TRUE;
        goto done;
    }
    g_print("A created %s\n", ex.doc_id);

    g_main_loop_run(ex.loop);
    g_print("event fd wake-ups: %u, timer polls: %u\n", ex.fd_wakeups, ex.timer_polls);

done:
    /* Remove the sources before destroying the engines: the fds die with the engines. */
    for (gsize i = 0; i < G_N_ELEMENTS(sources); i++)
        if (sources[i]) g_source_remove(sources[i]);
    sync_engine_destroy(ex.a);
    sync_engine_destroy(ex.b);
    g_main_loop_unref(ex.loop);
    remove_database(dir, "a.db");
    remove_database(dir, "b.db");
    g_rmdir(dir);
    g_free(db_a);
    g_free(db_b);
    g_free(dir);

    gboolean ok = ex.a_got_reply && !ex.wrong_thread && !ex.failed;
    if (ex.wrong_thread) g_printerr("a callback ran on another thread\n");
    g_print("%s\n", ok ? "OK: the document went A -> B -> A" : "FAILED");
    return ok ? 0 : 1;
}
