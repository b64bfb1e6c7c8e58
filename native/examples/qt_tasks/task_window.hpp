// task_window.hpp — the main window: an entry line with Add, a search box and a to do / done
// filter (one live query behind both), the task list (tick a box to mark a task done), Delete, and
// a status bar with the connection and what is not on the server yet.
//
// Attach image… stores a picture as an attachment of the selected task; rows show their task's
// picture (on every device of the user, once its bytes arrived).
//
// The widgets carry object names (newTask, addTask, search, filter, tasks, attachImage, deleteTask, status) so
// that tests and accessibility tools can find them in the widget tree.
#ifndef QT_TASKS_TASK_WINDOW_HPP
#define QT_TASKS_TASK_WINDOW_HPP

#include <QMainWindow>

class QComboBox;
class QLabel;
class QLineEdit;
class QListView;
class QPushButton;
class TaskModel;

class TaskWindow : public QMainWindow {
  Q_OBJECT

 public:
  TaskWindow(TaskModel &model, const QString &email, QWidget *parent = nullptr);

  /** Attaches the image file at `path` to the selected task (what choosing it in Attach image…'s dialog does). */
  void attachImageFile(const QString &path);

 private:
  void chooseImage();
  void addTask();
  void deleteSelected();
  void filter();

  TaskModel &model_;
  QLineEdit *entry_;
  QPushButton *add_;
  QLineEdit *search_;
  QComboBox *status_filter_;
  QListView *list_;
  QPushButton *attach_;
  QPushButton *delete_;
  QLabel *status_;
};

#endif
