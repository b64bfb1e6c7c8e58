#include "task_window.hpp"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QPushButton>
#include <QStatusBar>
#include <QVBoxLayout>

#include "task_model.hpp"

TaskWindow::TaskWindow(TaskModel &model, const QString &email, QWidget *parent)
    : QMainWindow(parent),
      model_(model),
      entry_(new QLineEdit),
      add_(new QPushButton(tr("Add"))),
      search_(new QLineEdit),
      status_filter_(new QComboBox),
      list_(new QListView),
      attach_(new QPushButton(tr("Attach image…"))),
      delete_(new QPushButton(tr("Delete"))),
      status_(new QLabel(model.status())) {
  setWindowTitle(tr("Tasks — %1").arg(email));

  entry_->setObjectName("newTask");
  entry_->setPlaceholderText(tr("What needs doing?"));
  entry_->setAccessibleName(tr("New task"));
  add_->setObjectName("addTask");
  add_->setEnabled(false);
  search_->setObjectName("search");
  search_->setPlaceholderText(tr("Search"));
  search_->setAccessibleName(tr("Search tasks"));
  search_->setClearButtonEnabled(true);
  status_filter_->setObjectName("filter");
  status_filter_->setAccessibleName(tr("Show"));
  status_filter_->addItem(tr("All"), QString());
  status_filter_->addItem(tr("To do"), QStringLiteral("todo"));
  status_filter_->addItem(tr("Done"), QStringLiteral("done"));
  list_->setObjectName("tasks");
  list_->setAccessibleName(tr("Tasks"));
  list_->setModel(&model_);
  list_->setUniformItemSizes(true);
  list_->setIconSize(QSize(48, 48));
  attach_->setObjectName("attachImage");
  attach_->setEnabled(false);
  delete_->setObjectName("deleteTask");
  delete_->setEnabled(false);
  delete_->setShortcut(QKeySequence::Delete);
  status_->setObjectName("status");

  auto *entryRow = new QHBoxLayout;
  entryRow->addWidget(entry_);
  entryRow->addWidget(add_);
  auto *filterRow = new QHBoxLayout;
  filterRow->addWidget(search_);
  filterRow->addWidget(status_filter_);
  auto *buttonRow = new QHBoxLayout;
  buttonRow->addStretch();
  buttonRow->addWidget(attach_);
  buttonRow->addWidget(delete_);
  auto *central = new QWidget;
  auto *layout = new QVBoxLayout(central);
  layout->addLayout(entryRow);
  layout->addLayout(filterRow);
  layout->addWidget(list_);
  layout->addLayout(buttonRow);
  setCentralWidget(central);
  statusBar()->addPermanentWidget(status_);
  resize(440, 320);

  connect(entry_, &QLineEdit::textChanged, this, [this](const QString &text) { add_->setEnabled(!text.trimmed().isEmpty()); });
  connect(entry_, &QLineEdit::returnPressed, this, &TaskWindow::addTask);
  connect(add_, &QPushButton::clicked, this, &TaskWindow::addTask);
  connect(delete_, &QPushButton::clicked, this, &TaskWindow::deleteSelected);
  connect(search_, &QLineEdit::textChanged, this, &TaskWindow::filter);
  connect(status_filter_, QOverload<int>::of(&QComboBox::currentIndexChanged), this, &TaskWindow::filter);
  connect(attach_, &QPushButton::clicked, this, &TaskWindow::chooseImage);
  connect(list_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
    delete_->setEnabled(list_->selectionModel()->hasSelection());
    attach_->setEnabled(list_->selectionModel()->hasSelection());
  });
  connect(&model_, &TaskModel::statusChanged, status_, &QLabel::setText);
  connect(&model_, &TaskModel::notice, this, [this](const QString &text) { statusBar()->showMessage(text, 10000); });
}

void TaskWindow::addTask() {
  const QString title = entry_->text().trimmed();
  if (title.isEmpty()) return;
  model_.addTask(title);
  entry_->clear();
}

void TaskWindow::filter() { model_.setFilter(search_->text(), status_filter_->currentData().toString()); }

void TaskWindow::chooseImage() {
  const QString path = QFileDialog::getOpenFileName(this, tr("Attach an image"), QString(), tr("Images (*.png *.jpg *.jpeg *.gif *.bmp *.webp)"));
  if (!path.isEmpty()) attachImageFile(path);
}

void TaskWindow::attachImageFile(const QString &path) {
  const QModelIndexList rows = list_->selectionModel()->selectedRows();
  if (!rows.isEmpty()) model_.attachImage(rows.first().row(), path);
}

void TaskWindow::deleteSelected() {
  const QModelIndexList rows = list_->selectionModel()->selectedRows();
  if (!rows.isEmpty()) model_.deleteTask(rows.first().row());
}
