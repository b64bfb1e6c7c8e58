// qt_tasks — a Qt 6 Widgets task list on libsync_client's C++ wrapper: add tasks, tick them done,
// delete them; changes made anywhere else (the TypeScript interactive client, `npm run client`,
// with the same email) appear as they arrive. See native/examples/qt_tasks/README.md.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <cstdio>
#include <memory>
#include <string>

#include "self_test.hpp"
#include "sync_client.hpp"
#include "task_model.hpp"
#include "task_window.hpp"

namespace {

const char *const kUsage =
    "A task list synchronised through a json-sync server.\n"
    "\n"
    "Each setting comes from its flag, else its environment variable, else the default.\n"
    "The API secret is read only from SYNC_API_SECRET (a command line is visible to other users).";

QString setting(const QCommandLineParser &parser, const QString &flag, const char *env, const QString &fallback) {
  if (parser.isSet(flag)) return parser.value(flag);
  return qEnvironmentVariableIsEmpty(env) ? fallback : qEnvironmentVariable(env);
}

}  // namespace

int main(int argc, char **argv) {
  // Parsed before QApplication exists, so --help and mistakes are answered without a display.
  QStringList args;
  for (int i = 0; i < argc; ++i) args << QString::fromLocal8Bit(argv[i]);
  QCommandLineParser parser;
  parser.setApplicationDescription(kUsage);
  const QCommandLineOption help({"h", "help"}, "Print this help.");
  parser.addOption(help);
  parser.addOptions({
      {"server", "The server's WebSocket URL (SYNC_SERVER_URL; default ws://localhost:8080/ws).", "URL"},
      {"email", "Whose tasks to show (SYNC_EMAIL; default user@example.com, as npm run client).", "EMAIL"},
      {"api-key", "The API key, rpa_... (SYNC_API_KEY).", "KEY"},
      {"database", "The local database file (SYNC_DATABASE; default qt_tasks.db).", "PATH"},
      {"self-test", "Test hook: report what the window shows in FILE and take commands on stdin (self_test.hpp).", "FILE"},
  });
  // Without an application object Qt cannot name the program in its usage line.
  const QString usage = parser.helpText().replace("<executable_name>", QFileInfo(args.first()).fileName());
  if (!parser.parse(args)) {
    std::fprintf(stderr, "%s\n\n%s", qPrintable(parser.errorText()), qPrintable(usage));
    return 2;
  }
  if (parser.isSet(help)) {
    std::printf("%s", qPrintable(usage));
    return 0;
  }
  const std::string server = setting(parser, "server", "SYNC_SERVER_URL", "ws://localhost:8080/ws").toStdString();
  const QString email = setting(parser, "email", "SYNC_EMAIL", "user@example.com");
  const std::string key = setting(parser, "api-key", "SYNC_API_KEY", QString()).toStdString();
  const std::string secret = qEnvironmentVariable("SYNC_API_SECRET").toStdString();
  const std::string database = setting(parser, "database", "SYNC_DATABASE", "qt_tasks.db").toStdString();
  if (key.empty() || secret.empty()) {
    std::fprintf(stderr, "%s needs an API key (--api-key or SYNC_API_KEY) and SYNC_API_SECRET; see --help\n", argv[0]);
    return 2;
  }

  QApplication app(argc, argv);
  try {
    SyncEngineConfig config = SyncClient::sync_engine::default_config();
    config.database_url = database.c_str();
    config.server_url = server.c_str();
    const std::string email_utf8 = email.toStdString();
    config.email = email_utf8.c_str();
    config.api_key = key.c_str();
    config.api_secret = secret.c_str();
    // Someone is looking at the window: retry soon after an outage rather than after the default 30 s.
    config.reconnect_max_ms = 5000;
    // Rows show their task's picture: fetch attachments as the tasks referring to them arrive.
    config.attachment_fetch_eager = true;
    SyncClient::sync_engine engine(config);

    // Declared after the engine, so destroyed before it: the model stops pumping the engine first.
    TaskModel model(engine);
    TaskWindow window(model, email);
    window.show();
    std::unique_ptr<SelfTest> selfTest;
    if (parser.isSet("self-test")) selfTest.reset(new SelfTest(window, parser.value("self-test")));
    return app.exec();
  } catch (const SyncClient::sync_exception &e) {
    std::fprintf(stderr, "cannot open %s: %s\n", database.c_str(), e.what());
    return 1;
  }
}
