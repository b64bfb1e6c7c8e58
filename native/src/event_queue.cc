#include "event_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace sync_client {

EventQueue::EventQueue(size_t limit) : limit_(limit == 0 ? 1 : limit) { fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

EventQueue::~EventQueue() {
  if (fd_ >= 0) close(fd_);
}

size_t EventQueue::BytesOf(const Event &e) {
  size_t n = sizeof(Event);
  for (const auto *f : {&e.document_id, &e.title, &e.content, &e.error}) n += *f ? (*f)->size() : 0;
  return n;
}

void EventQueue::DropOldest() {
  const Slot &oldest = slots_.front();
  if (oldest.event.type == SYNC_EVENT_DOCUMENT_UPDATED && oldest.event.document_id) {
    auto it = updates_.find(*oldest.event.document_id);
    if (it != updates_.end() && it->second == oldest.seq) updates_.erase(it);
  }
  bytes_ -= BytesOf(oldest.event);
  slots_.pop_front();
  dropped_++;
}

void EventQueue::push(Event event) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t size = BytesOf(event);
    bool full = slots_.size() >= limit_ || bytes_ + size > kMaxBytes;
    bool placed = false;
    if (full && event.type == SYNC_EVENT_DOCUMENT_UPDATED && event.document_id) {
      auto it = updates_.find(*event.document_id);
      if (it != updates_.end()) {
        Event &queued = slots_[it->second - slots_.front().seq].event;
        bytes_ = bytes_ - BytesOf(queued) + size;
        queued = std::move(event);
        placed = true;
      }
    }
    if (!placed) {
      while (!slots_.empty() && (slots_.size() >= limit_ || bytes_ + size > kMaxBytes)) DropOldest();
      uint64_t seq = next_seq_++;
      if (event.document_id) {
        // Only the last event of a document may absorb later updates: merging across a delete or a
        // re-create would reorder them.
        if (event.type == SYNC_EVENT_DOCUMENT_UPDATED) updates_[*event.document_id] = seq;
        else updates_.erase(*event.document_id);
      }
      bytes_ += size;
      slots_.push_back(Slot{seq, std::move(event)});
    }
    if (!signalled_ && fd_ >= 0) {
      uint64_t one = 1;
      (void)!write(fd_, &one, sizeof one);
      signalled_ = true;
    }
    if (!notified_ && notify_) {
      notified_ = true;
      wake = true;
    }
  }
  if (wake) {
    // Outside the queue lock (the host's notify may take its own locks), under the notify lock.
    std::lock_guard<std::mutex> lock(notify_mutex_);
    if (notify_) notify_(notify_context_);
  }
}

EventQueue::Batch EventQueue::drain() {
  Batch batch;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto &slot : slots_) batch.events.push_back(std::move(slot.event));
  slots_.clear();
  updates_.clear();
  bytes_ = 0;
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
  std::lock_guard<std::mutex> calling(notify_mutex_);
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
