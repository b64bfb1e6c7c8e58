// task_model.hpp — the tasks of one engine as a Qt list model: the rows are one live query's
// result (a search over the tasks' text and a to do / done filter, oldest first), kept current by
// the query's diffs — local and remote changes alike, one diff per commit, only for the rows it
// concerns.
//
// Tasks are documents shaped like the TypeScript interactive client's
// ({title, description, status: 'todo'|'done', priority, tags, created_at}), so both programs
// show and edit the same list. A task may also hold `image`: an attachment's reference, whose
// picture its row shows once the bytes are on this device (the engine fetches what documents refer
// to as they arrive: attachment_fetch_eager). Events and diffs are pumped on the thread that owns the model (the
// GUI thread): a QSocketNotifier on the engine's event fd wakes it at once, a slow QTimer is the
// safety net. Every engine call here completes against the local database; nothing waits for the
// network.
#ifndef QT_TASKS_TASK_MODEL_HPP
#define QT_TASKS_TASK_MODEL_HPP

#include <QAbstractListModel>
#include <QHash>
#include <QPixmap>
#include <QJsonObject>
#include <QSocketNotifier>
#include <QStringList>
#include <QTimer>
#include <QVector>

#include "sync_client.hpp"

class TaskModel : public QAbstractListModel {
  Q_OBJECT

 public:
  /** The engine must outlive the model (the model stops pumping it when destroyed). */
  explicit TaskModel(SyncClient::sync_engine &engine, QObject *parent = nullptr);

  int rowCount(const QModelIndex &parent = QModelIndex()) const override;
  QVariant data(const QModelIndex &index, int role) const override;
  /** Qt::CheckStateRole marks the task done or not done (what ticking its box does). */
  bool setData(const QModelIndex &index, const QVariant &value, int role) override;
  Qt::ItemFlags flags(const QModelIndex &index) const override;

  /** The status line last sent with statusChanged(). */
  QString status() const { return status_; }

  void addTask(const QString &title);
  /** Stores the image file as an attachment and refers to it from the task's `image`. */
  void attachImage(int row, const QString &path);
  void deleteTask(int row);
  /**
   * Shows the tasks holding every word of `search` (each a prefix; empty: all) whose status is
   * `status` ("todo", "done", or "" for both): one live query replaces the last.
   */
  void setFilter(const QString &search, const QString &status);

 signals:
  /** One line for the status bar: connection, task count, changes not yet on the server. */
  void statusChanged(const QString &text);
  /** Something to show for a while: why an engine call failed (the list is then unchanged) or the connection dropped. */
  void notice(const QString &text);

 private:
  struct Task {
    QString id;
    QString title;
    QString description;
    QString priority;
    QStringList tags;
    QString createdAt;
    bool done = false;
    QString imageId;  // the attachment id of `image`, or empty
  };

  void pump();
  /** Pumps once control is back in the event loop: a write's diff is applied after the view's own handling. */
  void pumpSoon();
  void onEvent(const SyncEventData &event);
  /** Applies a live query diff (docs/queries.md): removed, moved out, moved and added in at their index, changed. */
  void apply(const QJsonObject &diff);
  static Task taskOf(const QJsonObject &document);
  int rowOf(const QString &id) const;
  /** The picture of attachment `id` from the engine's local store into images_, when its bytes are here (false otherwise). */
  bool loadImage(const QString &id);
  /** An attachment's bytes arrived: the rows showing it are redrawn. */
  void imageArrived(const QString &id);
  void refreshStatus();
  /** Runs an engine call; a sync_exception becomes a notice() instead of crossing Qt's event loop. */
  template <typename F>
  bool guarded(F &&call);

  SyncClient::sync_engine &engine_;
  QVector<Task> tasks_;  // the live query's result: ordered by created_at, oldest first (as the interactive client lists them)
  QHash<QString, QPixmap> images_;  // attachment id → its picture, as rows show it
  bool filtered_ = false;
  SyncClient::live_query query_;
  QString connection_;
  QString status_;  // the last statusChanged() text
  SyncClient::scoped_callback events_;
  QSocketNotifier notifier_;
  QTimer poll_;
};

#endif
