// self_test.hpp — the test hook behind `qt_tasks --self-test FILE` (native/tests/qt_tasks_test.mjs
// uses it). It reports what the window shows and drives the window the way a user would:
//
// - FILE is rewritten (atomically) whenever what it reports changes, checked every 100 ms: JSON with
//   the window's X id, size and whether it is exposed, the status line, and each row the list view
//   lays out inside its visible area, as its accessibility interface reports it (name, checked) with
//   its displayed text and the size of the picture it shows ("WxH", or "" for none).
// - Commands are read from stdin, one per line, and act through the widgets:
//     add TITLE      put TITLE into the entry and click Add
//     toggle TITLE   make the first row whose text starts with TITLE current and press Space on the
//                    list (ticks or unticks its box)
//     delete TITLE   select that row and click Delete
//     attach TITLE|PATH  select that row and attach the image file PATH (what Attach image…'s dialog does)
//     search WORDS   put WORDS into the search box (nothing after it clears it)
//     filter STATUS  choose all, todo or done in the filter
//     quit           (end of stdin quits too)
#ifndef QT_TASKS_SELF_TEST_HPP
#define QT_TASKS_SELF_TEST_HPP

#include <QByteArray>
#include <QObject>
#include <QSocketNotifier>
#include <QString>
#include <QTimer>

class QListView;
class TaskWindow;

class SelfTest : public QObject {
  Q_OBJECT

 public:
  SelfTest(TaskWindow &window, const QString &dumpPath);

 private:
  void readCommands();
  void run(const QString &command, const QString &title);
  /** The first row whose text starts with `title`, or -1 (with a message on stderr). */
  int rowStartingWith(const QString &title) const;
  QByteArray describe() const;
  void dump();

  TaskWindow &window_;
  QListView *list_;
  QString path_;
  QByteArray written_;  // what FILE holds now
  QByteArray input_;    // stdin read so far, up to an incomplete line
  QSocketNotifier stdin_;
  QTimer poll_;
};

#endif
