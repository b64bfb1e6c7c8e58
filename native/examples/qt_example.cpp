// qt_example.cpp — Qt 6 (QCoreApplication, no display needed) driving two engines of one user.
//
//   A creates a document  →  B receives it and answers with an update  →  A receives B's update  →  exit 0.
//
// process_events() runs on the Qt event loop's thread in two ways, both shown:
// - a QSocketNotifier on the engine's event fd: readable while events wait, so the loop wakes up as
//   soon as an event is queued;
// - a QTimer: a periodic poll, here as a safety net (the portable choice where no fd can be watched).
// Every callback therefore runs on the application's thread and may touch QObjects freely.
//
//   qt_example [SERVER_URL [API_KEY [API_SECRET]]]
//   (or SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET; SYNC_EMAIL, SYNC_EXAMPLE_TIMEOUT_S optional)
#include <QCoreApplication>
#include <QSocketNotifier>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <cstdio>
#include <string>

#include "sync_client_events.h"

namespace {

QString config(const QStringList &args, int index, const char *env_name) {
  if (args.size() > index && !args[index].isEmpty()) return args[index];
  return qEnvironmentVariable(env_name);
}

void print_event(const char *side, const SyncEventData &event) {
  std::printf("[%s] %s", side, SyncClient::get_event_name(event.event_type));
  if (event.document_id) std::printf(" %s", event.document_id);
  if (event.content) std::printf(" %s", event.content);
  if (event.error) std::printf(" (%s)", event.error);
  if (event.document_id) std::printf(event.boolean_data ? " [local]" : " [remote]");
  std::printf("\n");
  std::fflush(stdout);
}

// Exceptions must not cross Qt's event loop: every slot that calls the engine goes through this.
template <typename F>
void guarded(F &&f) {
  try {
    f();
  } catch (const SyncClient::sync_exception &e) {
    std::fprintf(stderr, "sync error %d: %s\n", static_cast<int>(e.code()), e.what());
    QCoreApplication::exit(1);
  }
}

}  // namespace

int main(int argc, char **argv) {
  QCoreApplication app(argc, argv);
  const QStringList args = app.arguments();
  const QString server_url = config(args, 1, "SYNC_SERVER_URL");
  const QString api_key = config(args, 2, "SYNC_API_KEY");
  const QString api_secret = config(args, 3, "SYNC_API_SECRET");
  const QString email = qEnvironmentVariable("SYNC_EMAIL", "qt-example@example.com");
  const double timeout_s = qEnvironmentVariableIsSet("SYNC_EXAMPLE_TIMEOUT_S") ? qEnvironmentVariable("SYNC_EXAMPLE_TIMEOUT_S").toDouble() : 30.0;
  if (server_url.isEmpty() || api_key.isEmpty() || api_secret.isEmpty()) {
    std::fprintf(stderr, "usage: %s SERVER_URL API_KEY API_SECRET (or set SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET)\n", argv[0]);
    return 2;
  }
  std::printf("libsync_client %s, Qt %s, server %s\n", SyncClient::sync_engine::get_version().c_str(), qVersion(), qPrintable(server_url));

  QTemporaryDir dir;  // removed (with the database files) when main returns, after the engines
  if (!dir.isValid()) return 1;
  bool wrong_thread = false;
  try {
    SyncClient::sync_engine a(("sqlite:" + dir.filePath("a.db") + "?mode=rwc").toStdString(), server_url.toStdString(), email.toStdString(),
                 api_key.toStdString(), api_secret.toStdString());
    SyncClient::sync_engine b(dir.filePath("b.db").toStdString(), server_url.toStdString(), email.toStdString(), api_key.toStdString(),
                 api_secret.toStdString());

    std::string doc_id;
    bool b_got_document = false, a_got_reply = false;

    a.register_callback([&](const SyncEventData &event) {
      if (QThread::currentThread() != app.thread()) wrong_thread = true;
      print_event("A", event);
      if (event.event_type == SYNC_EVENT_DOCUMENT_UPDATED && !event.boolean_data && event.document_id && doc_id == event.document_id &&
          event.content && std::string(event.content).find("\"reply\"") != std::string::npos) {
        a_got_reply = true;
        QCoreApplication::exit(0);
      }
    });
    b.register_callback([&](const SyncEventData &event) {
      if (QThread::currentThread() != app.thread()) wrong_thread = true;
      print_event("B", event);
      if (event.event_type == SYNC_EVENT_DOCUMENT_CREATED && !event.boolean_data && event.document_id && doc_id == event.document_id &&
          !b_got_document) {
        b_got_document = true;
        // A callback may call the engine (anything but destroying it).
        guarded([&] { b.update_document(doc_id, R"({"title":"Hello from A","body":"written on engine A","reply":"B was here"})"); });
        std::printf("B updated %s\n", doc_id.c_str());
      }
    });

    // Declared after the engines, so destroyed before them: the fds belong to the engines.
    QSocketNotifier notifier_a(a.event_fd(), QSocketNotifier::Read);
    QSocketNotifier notifier_b(b.event_fd(), QSocketNotifier::Read);
    QObject::connect(&notifier_a, &QSocketNotifier::activated, &app, [&] { guarded([&] { a.process_events(); }); });
    QObject::connect(&notifier_b, &QSocketNotifier::activated, &app, [&] { guarded([&] { b.process_events(); }); });

    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &app, [&] {
      guarded([&] {
        a.process_events();
        b.process_events();
      });
    });
    poll.start(250);

    QTimer::singleShot(static_cast<int>(timeout_s * 1000), &app, [&] {
      std::fprintf(stderr, "timed out: %s\n", b_got_document ? "B's update did not reach A" : "A's document did not reach B");
      QCoreApplication::exit(1);
    });

    doc_id = a.create_document(R"({"title":"Hello from A","body":"written on engine A"})");
    std::printf("A created %s\n", doc_id.c_str());

    const int code = app.exec();
    if (code != 0 || !a_got_reply) return 1;
    if (wrong_thread) {
      std::fprintf(stderr, "a callback ran on another thread\n");
      return 1;
    }
    std::printf("A's copy now: %s\n", a.get_document(doc_id).c_str());
  } catch (const SyncClient::sync_exception &e) {
    std::fprintf(stderr, "sync error %d: %s\n", static_cast<int>(e.code()), e.what());
    return 1;
  }
  std::printf("OK: the document went A -> B -> A\n");
  return 0;
}
