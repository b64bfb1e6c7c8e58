#include "event_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace sync_client {

EventQueue::EventQueue(size_t limit) : limit_(limit == 0 ? 1 : limit) { fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

EventQueue::~EventQueue() {
  if (fd_ >= 0) close(fd_);
}

void EventQueue::push(Event event) {
  Notify notify = nullptr;
  void *context = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    bool placed = false;
    if (slots_.size() >= limit_ && event.type == kDocumentUpdated && event.document_id) {
      auto it = updates_.find(*event.document_id);
      if (it != updates_.end()) {
        slots_[it->second - slots_.front().seq].event = std::move(event);
        placed = true;
      }
    }
    if (!placed) {
      if (slots_.size() >= limit_) {
        const Slot &oldest = slots_.front();
        if (oldest.event.type == kDocumentUpdated && oldest.event.document_id) {
          auto it = updates_.find(*oldest.event.document_id);
          if (it != updates_.end() && it->second == oldest.seq) updates_.erase(it);
        }
        slots_.pop_front();
        dropped_++;
      }
      uint64_t seq = next_seq_++;
      if (event.type == kDocumentUpdated && event.document_id) updates_[*event.document_id] = seq;
      slots_.push_back(Slot{seq, std::move(event)});
    }
    if (!signalled_ && fd_ >= 0) {
      uint64_t one = 1;
      (void)!write(fd_, &one, sizeof one);
      signalled_ = true;
    }
    if (!notified_ && notify_) {
      notified_ = true;
      notify = notify_;
      context = notify_context_;
    }
  }
  // Outside the lock: the host's notify may do anything but call back into this queue's drain.
  if (notify) notify(context);
}

EventQueue::Batch EventQueue::drain() {
  Batch batch;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto &slot : slots_) batch.events.push_back(std::move(slot.event));
  slots_.clear();
  updates_.clear();
  batch.dropped = dropped_;
  dropped_ = 0;
  notified_ = false;
  if (signalled_ && fd_ >= 0) {
    uint64_t value;
    (void)!read(fd_, &value, sizeof value);
    signalled_ = false;
  }
  return batch;
}

void EventQueue::set_notify(Notify notify, void *context) {
  bool waiting;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    notify_ = notify;
    notify_context_ = context;
    waiting = notify && !slots_.empty();
    notified_ = waiting;
  }
  // Events already waiting would otherwise go unannounced until the next one arrives.
  if (waiting) notify(context);
}

size_t EventQueue::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return slots_.size();
}

}  // namespace sync_client
