#include "task_model.hpp"

#include <QBrush>
#include <QDateTime>
#include <QFont>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMimeDatabase>
#include <QPalette>
#include <QRegularExpression>
#include <algorithm>

namespace {

const QStringList kPriorities = {"low", "medium", "high"};

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
  // The search box reads this text index (declaring it again at every start does nothing).
  guarded([&] { engine_.create_text_index(R"({"name":"tasks_text","fields":["title","description","tags"]})"); });
  setFilter(QString(), QString());
  pump();
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
    case Qt::DecorationRole: {
      const auto image = images_.constFind(task.imageId);
      return image == images_.constEnd() ? QVariant() : QVariant(*image);
    }
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
  const bool done = static_cast<Qt::CheckState>(value.toInt()) == Qt::Checked;
  const QJsonObject change{{"status", done ? "done" : "todo"}};
  if (!guarded([&] { engine_.merge_document(tasks_[index.row()].id.toStdString(), compact(change)); })) return false;
  // The live query's diff shows it (and, under a filter, may take the row away).
  pumpSoon();
  return true;
}

Qt::ItemFlags TaskModel::flags(const QModelIndex &index) const {
  if (!index.isValid()) return Qt::NoItemFlags;
  return Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemIsUserCheckable | Qt::ItemNeverHasChildren;
}

void TaskModel::addTask(const QString &title) {
  const QJsonObject task{{"title", title},  {"description", ""}, {"status", "todo"},
                         {"priority", "medium"}, {"tags", QJsonArray()}, {"created_at", nowIso()}};
  if (guarded([&] { engine_.create_document(compact(task)); })) pumpSoon();
}

void TaskModel::attachImage(int row, const QString &path) {
  if (row < 0 || row >= tasks_.size()) return;
  const QString id = tasks_[row].id;
  const std::string type = QMimeDatabase().mimeTypeForFile(path).name().toStdString();
  guarded([&] {
    // Streamed into the local database by the engine; the upload goes on in the background.
    const std::string reference = engine_.add_attachment_file(path.toStdString(), type);
    engine_.merge_document(id.toStdString(), "{\"image\":" + reference + "}");
    pumpSoon();
  });
}

bool TaskModel::loadImage(const QString &id) {
  if (id.isEmpty() || images_.contains(id)) return !id.isEmpty();
  std::vector<uint8_t> bytes;
  try {
    bytes = engine_.attachment(id.toStdString());
  } catch (const SyncClient::sync_exception &e) {
    if (e.code() != SYNC_RESULT_NOT_FOUND) emit notice(QString::fromUtf8(e.what()));
    return false;  // not here yet: its AttachmentCompleted event brings it
  }
  QPixmap picture;
  if (!picture.loadFromData(bytes.data(), static_cast<uint>(bytes.size()))) return false;
  // A thumbnail: the row's height is the text's, a few lines at most.
  images_.insert(id, picture.height() > 48 ? picture.scaledToHeight(48, Qt::SmoothTransformation) : picture);
  return true;
}

void TaskModel::imageArrived(const QString &id) {
  if (!loadImage(id)) return;
  for (int row = 0; row < tasks_.size(); ++row)
    if (tasks_[row].imageId == id) emit dataChanged(index(row), index(row), {Qt::DecorationRole});
}

void TaskModel::deleteTask(int row) {
  if (row < 0 || row >= tasks_.size()) return;
  const QString id = tasks_[row].id;
  if (guarded([&] { engine_.delete_document(id.toStdString()); })) pumpSoon();
}

void TaskModel::setFilter(const QString &search, const QString &status) {
  QJsonObject query{{"sort", QJsonArray{QJsonObject{{"created_at", "asc"}}}}};
  if (!status.isEmpty()) query["where"] = QJsonObject{{"status", status}};
  QStringList words;
  for (const QString &word : search.split(QRegularExpression("[^\\p{L}\\p{N}]+"), Qt::SkipEmptyParts)) words << word + "*";
  if (!words.isEmpty()) query["search"] = words.join(' ');
  beginResetModel();
  tasks_.clear();
  endResetModel();
  filtered_ = !query.value("where").isUndefined() || !words.isEmpty();
  // The first diff is the whole result; the old query stops as it is replaced.
  guarded([&] { query_ = engine_.watch(compact(query), [this](const std::string &diff) { apply(QJsonDocument::fromJson(QByteArray::fromStdString(diff)).object()); }); });
  pumpSoon();
}

void TaskModel::pump() {
  guarded([&] { engine_.process_events(); });
  refreshStatus();
}

void TaskModel::pumpSoon() { QMetaObject::invokeMethod(this, &TaskModel::pump, Qt::QueuedConnection); }

void TaskModel::onEvent(const SyncEventData &event) {
  // Documents reach the rows through the live query; events say how the connection is.
  switch (event.event_type) {
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
    case SYNC_EVENT_ATTACHMENT_COMPLETED:
      // Downloaded (or uploaded from here): content is the attachment's reference.
      if (event.content) imageArrived(QString::fromStdString(SyncClient::sync_engine::attachment_id_of(event.content)));
      break;
    case SYNC_EVENT_SYNC_ERROR:
      // An overflow (numeric_data > 0) dropped only events: the live query's diffs are never dropped.
      if (event.numeric_data == 0) emit notice(tr("Sync error: %1").arg(QString::fromUtf8(event.error ? event.error : "")));
      break;
    default:
      break;
  }
}

TaskModel::Task TaskModel::taskOf(const QJsonObject &document) {
  const QJsonObject content = document.value("content").toObject();
  // Content written by other programs may be anything: show it as a task with the interactive client's defaults.
  Task task;
  task.id = document.value("id").toString();
  task.title = content.value("title").isString() ? content.value("title").toString() : tr("(untitled)");
  task.description = content.value("description").toString();
  task.done = content.value("status").toString() == "done";
  task.priority = kPriorities.contains(content.value("priority").toString()) ? content.value("priority").toString() : "medium";
  for (const QJsonValue &tag : content.value("tags").toArray())
    if (tag.isString()) task.tags << tag.toString();
  task.createdAt = content.value("created_at").isString() ? content.value("created_at").toString() : document.value("created_at").toString();
  task.imageId = content.value("image").toObject().value("$attachment").toString();
  return task;
}

void TaskModel::apply(const QJsonObject &diff) {
  auto takeOut = [this](const QString &id) {
    const int row = rowOf(id);
    if (row < 0) return Task();
    beginRemoveRows(QModelIndex(), row, row);
    Task task = tasks_.takeAt(row);
    endRemoveRows();
    return task;
  };
  for (const QJsonValue &id : diff.value("removed").toArray()) takeOut(id.toString());
  // Moved and added rows go in at their index in the new result, ascending.
  QVector<QPair<int, Task>> insertions;
  for (const QJsonValue &moved : diff.value("moved").toArray()) {
    const QJsonObject m = moved.toObject();
    insertions.append({m.value("index").toInt(), takeOut(m.value("id").toString())});
  }
  for (const QJsonValue &added : diff.value("added").toArray()) {
    const QJsonObject a = added.toObject();
    insertions.append({a.value("index").toInt(), taskOf(a.value("document").toObject())});
  }
  std::sort(insertions.begin(), insertions.end(), [](const QPair<int, Task> &x, const QPair<int, Task> &y) { return x.first < y.first; });
  for (const auto &insertion : insertions) {
    loadImage(insertion.second.imageId);
    const int row = std::min(insertion.first, static_cast<int>(tasks_.size()));
    beginInsertRows(QModelIndex(), row, row);
    tasks_.insert(row, insertion.second);
    endInsertRows();
  }
  for (const QJsonValue &changed : diff.value("changed").toArray()) {
    const Task task = taskOf(changed.toObject());
    const int row = rowOf(task.id);
    if (row < 0) continue;
    loadImage(task.imageId);
    tasks_[row] = task;
    emit dataChanged(index(row), index(row));
  }
}

int TaskModel::rowOf(const QString &id) const {
  for (int row = 0; row < tasks_.size(); ++row)
    if (tasks_[row].id == id) return row;
  return -1;
}

void TaskModel::refreshStatus() {
  uint64_t pending = 0, total = 0;
  if (!guarded([&] {
        pending = engine_.count_pending();
        total = engine_.count_documents();
      }))
    return;
  QString text = connection_ + (total == 1 ? tr(" · 1 task") : tr(" · %1 tasks").arg(total));
  if (filtered_) text += tr(" · %1 shown").arg(tasks_.size());
  if (pending > 0) text += pending == 1 ? tr(" · 1 change not on the server yet") : tr(" · %1 changes not on the server yet").arg(pending);
  if (text == status_) return;
  status_ = text;
  emit statusChanged(text);
}
