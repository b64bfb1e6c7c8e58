#include "wal_checkpoints.h"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "document_reader.h"
#include "sync_client.h"

namespace sync_client {

namespace {

/** One thread for the process, started with the first request, asleep while none waits. */
class CheckpointThread {
 public:
  static CheckpointThread &Instance() {
    static CheckpointThread *instance = new CheckpointThread();  // never destroyed: its thread may outlive static destructors
    return *instance;
  }

  std::string request(const std::string &path) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_) {
      std::thread([this] { run(); }).detach();
      started_ = true;
    }
    if (waiting_.insert(path).second) {
      order_.push_back(path);
      woken_.notify_one();
    }
    std::string failed;
    auto it = failures_.find(path);
    if (it != failures_.end()) {
      failed = std::move(it->second);
      failures_.erase(it);
    }
    return failed;
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      woken_.wait(lock, [&] { return !order_.empty(); });
      std::string path = std::move(order_.front());
      order_.pop_front();
      waiting_.erase(path);
      lock.unlock();
      // No reader (the engine is being destroyed): its close checkpoints the file anyway.
      std::shared_ptr<DocumentReader> reader = DocumentReader::Find(path);
      ReadResult r = reader ? reader->checkpoint() : ReadResult{SYNC_RESULT_SUCCESS, ""};
      reader.reset();
      lock.lock();
      if (!r.message.empty()) failures_[path] = r.message;
    }
  }

  std::mutex mutex_;
  std::condition_variable woken_;
  bool started_ = false;
  std::deque<std::string> order_;
  std::set<std::string> waiting_;
  std::map<std::string, std::string> failures_;
};

}  // namespace

std::string RequestCheckpoint(const std::string &path) { return CheckpointThread::Instance().request(path); }

}  // namespace sync_client
