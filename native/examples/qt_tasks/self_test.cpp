#include "self_test.hpp"

#include <unistd.h>

#include <QAccessible>
#include <QApplication>
#include <QComboBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QMainWindow>
#include <QPushButton>
#include <QSaveFile>
#include <QWindow>
#include <cstdio>

#include "task_window.hpp"

SelfTest::SelfTest(TaskWindow &window, const QString &dumpPath)
    : window_(window), list_(window.findChild<QListView *>("tasks")), path_(dumpPath), stdin_(STDIN_FILENO, QSocketNotifier::Read) {
  connect(&stdin_, &QSocketNotifier::activated, this, &SelfTest::readCommands);
  connect(&poll_, &QTimer::timeout, this, &SelfTest::dump);
  poll_.start(100);
}

void SelfTest::readCommands() {
  char buffer[4096];
  const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
  if (n <= 0) {
    stdin_.setEnabled(false);
    QApplication::quit();
    return;
  }
  input_.append(buffer, n);
  for (qsizetype end; (end = input_.indexOf('\n')) >= 0; input_.remove(0, end + 1)) {
    const QString line = QString::fromUtf8(input_.left(end)).trimmed();
    const qsizetype space = line.indexOf(' ');
    run(line.left(space < 0 ? line.size() : space), space < 0 ? QString() : line.mid(space + 1));
  }
}

void SelfTest::run(const QString &command, const QString &title) {
  if (command == "quit") {
    QApplication::quit();
  } else if (command == "add") {
    window_.findChild<QLineEdit *>("newTask")->setText(title);
    window_.findChild<QPushButton *>("addTask")->click();
  } else if (command == "search") {
    window_.findChild<QLineEdit *>("search")->setText(title);
  } else if (command == "filter") {
    auto *filter = window_.findChild<QComboBox *>("filter");
    filter->setCurrentIndex(filter->findData(title == "all" ? QString() : title));
  } else if (command == "attach") {
    // TITLE|PATH: the dialog's choice is given, the rest is the window's own path.
    const qsizetype bar = title.lastIndexOf('|');
    const int row = rowStartingWith(title.left(bar));
    if (row < 0 || bar < 0) return;
    list_->setCurrentIndex(list_->model()->index(row, 0));
    window_.attachImageFile(title.mid(bar + 1));
  } else if (command == "toggle" || command == "delete") {
    const int row = rowStartingWith(title);
    if (row < 0) return;
    list_->setCurrentIndex(list_->model()->index(row, 0));
    if (command == "delete") {
      window_.findChild<QPushButton *>("deleteTask")->click();
      return;
    }
    QKeyEvent press(QEvent::KeyPress, Qt::Key_Space, Qt::NoModifier, " ");
    QKeyEvent release(QEvent::KeyRelease, Qt::Key_Space, Qt::NoModifier, " ");
    QApplication::sendEvent(list_, &press);
    QApplication::sendEvent(list_, &release);
  } else {
    std::fprintf(stderr, "self-test: unknown command '%s'\n", qPrintable(command));
  }
}

int SelfTest::rowStartingWith(const QString &title) const {
  const QAbstractItemModel *model = list_->model();
  for (int row = 0; row < model->rowCount(); ++row)
    if (model->index(row, 0).data().toString().startsWith(title)) return row;
  std::fprintf(stderr, "self-test: no row starts with '%s'\n", qPrintable(title));
  return -1;
}

QByteArray SelfTest::describe() const {
  QJsonArray rows;
  // The list as assistive technology sees it: one accessible child per row (a list view has no headers).
  // With no assistive technology attached (none is, under Xvfb) Qt sends the list's interface no
  // model changes, so the row interfaces it caches by number go stale as rows are removed and
  // inserted: describe the rows through a fresh one each time.
  QAccessible::deleteAccessibleInterface(QAccessible::uniqueId(QAccessible::queryAccessibleInterface(list_)));
  QAccessibleInterface *view = QAccessible::queryAccessibleInterface(list_);
  const QRect visible(list_->viewport()->mapToGlobal(QPoint(0, 0)), list_->viewport()->size());
  for (int i = 0; view && i < view->childCount(); ++i) {
    QAccessibleInterface *row = view->child(i);
    if (!row || row->state().invisible || row->state().offscreen || !visible.intersects(row->rect())) continue;
    const QPixmap image = list_->model()->index(i, 0).data(Qt::DecorationRole).value<QPixmap>();
    rows.append(QJsonObject{{"name", row->text(QAccessible::Name)},
                            {"checked", bool(row->state().checked)},
                            {"text", list_->model()->index(i, 0).data().toString()},
                            {"image", image.isNull() ? QString() : QStringLiteral("%1x%2").arg(image.width()).arg(image.height())}});
  }
  const QWindow *handle = window_.windowHandle();
  const QJsonObject window{{"id", QStringLiteral("0x%1").arg(window_.winId(), 0, 16)},
                           {"width", window_.width()},
                           {"height", window_.height()},
                           {"exposed", handle && handle->isExposed()}};
  return QJsonDocument(QJsonObject{{"window", window}, {"status", window_.findChild<QLabel *>("status")->text()}, {"rows", rows}}).toJson();
}

void SelfTest::dump() {
  const QByteArray now = describe();
  if (now == written_) return;
  QSaveFile file(path_);
  if (!file.open(QIODevice::WriteOnly) || file.write(now) != now.size() || !file.commit()) {
    std::fprintf(stderr, "self-test: cannot write %s\n", qPrintable(path_));
    return;
  }
  written_ = now;
}
