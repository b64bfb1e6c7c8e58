#include "event_queue.h"

#include <fcntl.h>
#include <unistd.h>
#ifndef SYNC_EVENT_PIPE
#include <sys/eventfd.h>
#endif

#include <algorithm>

#include "contract/engine_ops.h"

namespace sync_client {

// The wake-up fd: Linux's eventfd, or — where there is none (macOS, the BSDs: docs/platforms.md) —
// the read end of a pipe (SYNC_EVENT_PIPE, which Linux builds can choose to test it). Either is
// readable from the first event after a drain until the next drain.
#ifdef SYNC_EVENT_PIPE
namespace {
bool NonBlockingCloexec(int fd) {
  return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}
}  // namespace

EventQueue::EventQueue(size_t limit) : limit_(limit == 0 ? 1 : limit) {
  int ends[2];
  if (pipe(ends) != 0) return;
  if (!NonBlockingCloexec(ends[0]) || !NonBlockingCloexec(ends[1])) {
    close(ends[0]);
    close(ends[1]);
    return;
  }
  fd_ = ends[0];
  write_fd_ = ends[1];
}

EventQueue::~EventQueue() {
  if (fd_ >= 0) close(fd_);
  if (write_fd_ >= 0) close(write_fd_);
}

void EventQueue::signal() {
  char one = 1;
  (void)!write(write_fd_, &one, 1);
}

void EventQueue::unsignal() {
  char bytes[64];
  while (read(fd_, bytes, sizeof bytes) > 0) {
  }
}
#else
EventQueue::EventQueue(size_t limit) : limit_(limit == 0 ? 1 : limit) { fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

EventQueue::~EventQueue() {
  if (fd_ >= 0) close(fd_);
}

void EventQueue::signal() {
  uint64_t one = 1;
  (void)!write(fd_, &one, sizeof one);
}

void EventQueue::unsignal() {
  uint64_t value;
  (void)!read(fd_, &value, sizeof value);
}
#endif

size_t EventQueue::BytesOf(const Event &e) {
  size_t n = sizeof(Event);
  for (const auto *f : {&e.document_id, &e.title, &e.content, &e.error}) n += *f ? (*f)->size() : 0;
  return n;
}

std::optional<std::string> EventQueue::SubjectOf(const Event &e) {
  if (e.type == SYNC_EVENT_ATTACHMENT_PROGRESS || e.type == SYNC_EVENT_ATTACHMENT_COMPLETED || e.type == SYNC_EVENT_ATTACHMENT_FAILED) {
    // One attachment's upload and its download are two transfers; the reference names the attachment.
    if (!e.content) return std::nullopt;
    return std::string(e.flag ? "upload " : "download ") + *e.content;
  }
  if (e.document_id) return "document " + *e.document_id;
  return std::nullopt;
}

bool EventQueue::Absorbs(const Event &e) { return e.type == SYNC_EVENT_DOCUMENT_UPDATED || e.type == SYNC_EVENT_ATTACHMENT_PROGRESS; }

void EventQueue::DropOldest() {
  const Slot &oldest = slots_.front();
  std::optional<std::string> subject = SubjectOf(oldest.event);
  if (subject) {
    auto it = absorbing_.find(*subject);
    if (it != absorbing_.end() && it->second == oldest.seq) absorbing_.erase(it);
  }
  bytes_ -= BytesOf(oldest.event);
  slots_.pop_front();
  dropped_++;
}

void EventQueue::place(Event event) {
  size_t size = BytesOf(event);
  bool full = slots_.size() >= limit_ || bytes_ + size > kMaxBytes;
  std::optional<std::string> subject = SubjectOf(event);
  if (full && subject && Absorbs(event)) {
    auto it = absorbing_.find(*subject);
    if (it != absorbing_.end()) {
      // Seqs rise along the queue, with gaps where live query diffs took theirs.
      auto at = std::lower_bound(slots_.begin(), slots_.end(), it->second, [](const Slot &slot, uint64_t seq) { return slot.seq < seq; });
      Event &queued = at->event;
      bytes_ = bytes_ - BytesOf(queued) + size;
      queued = std::move(event);
      return;
    }
  }
  while (!slots_.empty() && (slots_.size() >= limit_ || bytes_ + size > kMaxBytes)) DropOldest();
  uint64_t seq = next_seq_++;
  if (subject) {
    // Only the last event of a subject may absorb later ones: merging across a delete or a
    // re-create (a transfer's end) would reorder them.
    if (Absorbs(event)) absorbing_[*subject] = seq;
    else absorbing_.erase(*subject);
  }
  bytes_ += size;
  slots_.push_back(Slot{seq, std::move(event)});
}

void EventQueue::push(Event event) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (event.type == ops::kLiveQueryEvent) live_.push_back(Slot{next_seq_++, std::move(event)});
    else place(std::move(event));
    if (!signalled_ && fd_ >= 0) {
      signal();
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
  auto slot = slots_.begin();
  auto live = live_.begin();
  while (slot != slots_.end() || live != live_.end()) {
    bool take_live = slot == slots_.end() || (live != live_.end() && live->seq < slot->seq);
    batch.events.push_back(std::move(take_live ? (live++)->event : (slot++)->event));
  }
  slots_.clear();
  live_.clear();
  absorbing_.clear();
  bytes_ = 0;
  batch.dropped = dropped_;
  dropped_ = 0;
  notified_ = false;
  if (signalled_ && fd_ >= 0) {
    unsignal();
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
    waiting = notify && (!slots_.empty() || !live_.empty());
    notified_ = waiting;
  }
  // Events already waiting would otherwise go unannounced until the next one arrives.
  if (waiting) notify(context);
}

size_t EventQueue::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return slots_.size() + live_.size();
}

}  // namespace sync_client
