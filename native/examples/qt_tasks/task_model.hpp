// task_model.hpp — the tasks of one engine as a Qt list model, kept current by the engine's events.
//
// Tasks are documents shaped like the TypeScript interactive client's
// ({title, description, status: 'todo'|'done', priority, tags, created_at}), so both programs
// show and edit the same list. Events are pumped on the thread that owns the model (the GUI
// thread): a QSocketNotifier on the engine's event fd wakes it at once, a slow QTimer is the
// safety net. Every engine call here completes against the local database; nothing waits for the
// network.
#ifndef QT_TASKS_TASK_MODEL_HPP
#define QT_TASKS_TASK_MODEL_HPP

#include <QAbstractListModel>
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
  void deleteTask(int row);

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
  };

  void pump();
  void onEvent(const SyncEventData &event);
  void reload();
  void upsert(const QString &id, const QJsonObject &content, const QString &fallbackCreatedAt);
  void remove(const QString &id);
  int rowOf(const QString &id) const;
  void refreshStatus();
  /** Runs an engine call; a sync_exception becomes a notice() instead of crossing Qt's event loop. */
  template <typename F>
  bool guarded(F &&call);

  SyncClient::sync_engine &engine_;
  QVector<Task> tasks_;  // ordered by created_at, oldest first (as the interactive client lists them)
  QString connection_;
  QString status_;  // the last statusChanged() text
  SyncClient::scoped_callback events_;
  QSocketNotifier notifier_;
  QTimer poll_;
};

#endif
