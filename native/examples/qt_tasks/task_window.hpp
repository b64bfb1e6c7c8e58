// task_window.hpp — the main window: an entry line with Add, the task list (tick a box to mark a
// task done), Delete, and a status bar with the connection and what is not on the server yet.
//
// The widgets carry object names (newTask, addTask, tasks, deleteTask, status) so that tests and
// accessibility tools can find them in the widget tree.
#ifndef QT_TASKS_TASK_WINDOW_HPP
#define QT_TASKS_TASK_WINDOW_HPP

#include <QMainWindow>

class QLabel;
class QLineEdit;
class QListView;
class QPushButton;
class TaskModel;

class TaskWindow : public QMainWindow {
  Q_OBJECT

 public:
  TaskWindow(TaskModel &model, const QString &email, QWidget *parent = nullptr);

 private:
  void addTask();
  void deleteSelected();

  TaskModel &model_;
  QLineEdit *entry_;
  QPushButton *add_;
  QListView *list_;
  QPushButton *delete_;
  QLabel *status_;
};

#endif
