#include "task_model.hpp"

#include <QBrush>
#include <QDateTime>
#include <QFont>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPalette>
#include <algorithm>

namespace {

const QStringList kPriorities = {"low", "medium", "high"};

QJsonObject parseObject(const char *json) { return json ? QJsonDocument::fromJson(QByteArray(json)).object() : QJsonObject(); }

std::string compact(const QJsonObject &object) { return QJsonDocument(object).toJson(QJsonDocument::Compact).toStdString(); }

/** The interactive client's created_at: JavaScript's Date.toISOString(). */
QString nowIso() { return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs); }

}  // namespace

template <typename F>
bool TaskModel::guarded(F &&call) {
  try {
    call();
    return true;
  } catch (const SyncClient::sync_exception &e) {
    emit notice(QString::fromUtf8(e.what()));
    return false;
  }
}

TaskModel::TaskModel(SyncClient::sync_engine &engine, QObject *parent)
    : QAbstractListModel(parent),
      engine_(engine),
      connection_(tr("Connecting…")),
      events_(engine.register_callback([this](const SyncEventData &event) { onEvent(event); })),
      notifier_(engine.event_fd(), QSocketNotifier::Read) {
  reload();
  refreshStatus();
  // The fd is readable while events wait, so each wake-up delivers them at once; the timer also
  // catches acknowledgements (which change the pending count without an event).
  connect(&notifier_, &QSocketNotifier::activated, this, &TaskModel::pump);
  connect(&poll_, &QTimer::timeout, this, &TaskModel::pump);
  poll_.start(500);
}

int TaskModel::rowCount(const QModelIndex &parent) const { return parent.isValid() ? 0 : static_cast<int>(tasks_.size()); }

QVariant TaskModel::data(const QModelIndex &index, int role) const {
  if (!index.isValid() || index.row() >= tasks_.size()) return QVariant();
  const Task &task = tasks_[index.row()];
  switch (role) {
    case Qt::DisplayRole: {
      QString text = task.title;
      if (task.priority != "medium") text += QStringLiteral("  · %1").arg(task.priority);
      for (const QString &tag : task.tags) text += QStringLiteral("  #%1").arg(tag);
      return text;
    }
    case Qt::CheckStateRole:
      return task.done ? Qt::Checked : Qt::Unchecked;
    case Qt::AccessibleTextRole: {
      QString text = tr("%1, %2, %3 priority").arg(task.title, task.done ? tr("done") : tr("to do"), task.priority);
      if (!task.tags.isEmpty()) text += tr(", tags %1").arg(task.tags.join(", "));
      return text;
    }
    case Qt::ToolTipRole:
      return task.description.isEmpty() ? QVariant() : task.description;
    case Qt::FontRole: {
      QFont font;
      font.setStrikeOut(task.done);
      return font;
    }
    case Qt::ForegroundRole:
      return task.done ? QVariant(QPalette().brush(QPalette::Disabled, QPalette::Text)) : QVariant();
    default:
      return QVariant();
  }
}

bool TaskModel::setData(const QModelIndex &index, const QVariant &value, int role) {
  if (role != Qt::CheckStateRole || !index.isValid() || index.row() >= tasks_.size()) return false;
  Task &task = tasks_[index.row()];
  const bool done = static_cast<Qt::CheckState>(value.toInt()) == Qt::Checked;
  const QJsonObject change{{"status", done ? "done" : "todo"}};
  if (!guarded([&] { engine_.merge_document(task.id.toStdString(), compact(change)); })) return false;
  // Shown now; the engine's own DocumentUpdated event repeats it harmlessly.
  task.done = done;
  emit dataChanged(index, index);
  return true;
}

Qt::ItemFlags TaskModel::flags(const QModelIndex &index) const {
  if (!index.isValid()) return Qt::NoItemFlags;
  return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsUserCheckable | Qt::ItemNeverHasChildren;
}

void TaskModel::addTask(const QString &title) {
  const QJsonObject task{{"title", title},  {"description", ""}, {"status", "todo"},
                         {"priority", "medium"}, {"tags", QJsonArray()}, {"created_at", nowIso()}};
  std::string id;
  if (guarded([&] { id = engine_.create_document(compact(task)); })) upsert(QString::fromStdString(id), task, QString());
  refreshStatus();
}

void TaskModel::deleteTask(int row) {
  if (row < 0 || row >= tasks_.size()) return;
  const QString id = tasks_[row].id;
  if (guarded([&] { engine_.delete_document(id.toStdString()); })) remove(id);
  refreshStatus();
}

void TaskModel::pump() {
  guarded([&] { engine_.process_events(); });
  refreshStatus();
}

void TaskModel::onEvent(const SyncEventData &event) {
  const QString id = QString::fromUtf8(event.document_id ? event.document_id : "");
  switch (event.event_type) {
    case SYNC_EVENT_DOCUMENT_CREATED:
    case SYNC_EVENT_DOCUMENT_UPDATED:
      upsert(id, parseObject(event.content), nowIso());
      break;
    case SYNC_EVENT_DOCUMENT_DELETED:
      remove(id);
      break;
    case SYNC_EVENT_CONNECTION_ATTEMPTED:
      // A server that cannot be reached only shows as attempts (ConnectionLost follows a connection).
      connection_ = event.numeric_data > 1 ? tr("Connecting… (attempt %1)").arg(event.numeric_data) : tr("Connecting…");
      break;
    case SYNC_EVENT_CONNECTION_SUCCEEDED:
      connection_ = tr("Connected");
      break;
    case SYNC_EVENT_CONNECTION_LOST:
      connection_ = tr("Offline");
      emit notice(tr("Connection lost: %1").arg(QString::fromUtf8(event.error ? event.error : "")));
      break;
    case SYNC_EVENT_SYNC_ERROR:
      // numeric_data > 0: the event queue overflowed and dropped that many; what is shown may be stale.
      if (event.numeric_data > 0) reload();
      else emit notice(tr("Sync error: %1").arg(QString::fromUtf8(event.error ? event.error : "")));
      break;
    default:
      break;
  }
}

void TaskModel::reload() {
  QJsonArray documents;
  if (!guarded([&] { documents = QJsonDocument::fromJson(QByteArray::fromStdString(engine_.get_all_documents())).array(); })) return;
  beginResetModel();
  tasks_.clear();
  endResetModel();
  for (const QJsonValue &document : documents) {
    const QJsonObject d = document.toObject();
    upsert(d.value("id").toString(), d.value("content").toObject(), d.value("created_at").toString());
  }
}

void TaskModel::upsert(const QString &id, const QJsonObject &content, const QString &fallbackCreatedAt) {
  if (id.isEmpty()) return;
  // Content written by other programs may be anything: show it as a task with the interactive client's defaults.
  Task task;
  task.id = id;
  task.title = content.value("title").isString() ? content.value("title").toString() : tr("(untitled)");
  task.description = content.value("description").toString();
  task.done = content.value("status").toString() == "done";
  task.priority = kPriorities.contains(content.value("priority").toString()) ? content.value("priority").toString() : "medium";
  for (const QJsonValue &tag : content.value("tags").toArray())
    if (tag.isString()) task.tags << tag.toString();
  task.createdAt = content.value("created_at").isString() ? content.value("created_at").toString() : fallbackCreatedAt;

  const int existing = rowOf(id);
  if (existing >= 0 && tasks_[existing].createdAt == task.createdAt) {
    tasks_[existing] = task;
    emit dataChanged(index(existing), index(existing));
    return;
  }
  if (existing >= 0) remove(id);  // its place in the order changed
  const auto at = std::upper_bound(tasks_.begin(), tasks_.end(), task.createdAt,
                                   [](const QString &createdAt, const Task &other) { return createdAt < other.createdAt; });
  const int row = static_cast<int>(at - tasks_.begin());
  beginInsertRows(QModelIndex(), row, row);
  tasks_.insert(row, task);
  endInsertRows();
}

void TaskModel::remove(const QString &id) {
  const int row = rowOf(id);
  if (row < 0) return;
  beginRemoveRows(QModelIndex(), row, row);
  tasks_.removeAt(row);
  endRemoveRows();
}

int TaskModel::rowOf(const QString &id) const {
  for (int row = 0; row < tasks_.size(); ++row)
    if (tasks_[row].id == id) return row;
  return -1;
}

void TaskModel::refreshStatus() {
  uint64_t pending = 0;
  if (!guarded([&] { pending = engine_.count_pending(); })) return;
  QString text = connection_ + (tasks_.size() == 1 ? tr(" · 1 task") : tr(" · %1 tasks").arg(tasks_.size()));
  if (pending > 0) text += pending == 1 ? tr(" · 1 change not on the server yet") : tr(" · %1 changes not on the server yet").arg(pending);
  if (text == status_) return;
  status_ = text;
  emit statusChanged(text);
}
