// Per-engine event queue: filled on the runtime thread, drained on the host's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "sync_client.h"

namespace sync_client {

struct Event {
  int type = 0;
  std::optional<std::string> document_id;
  std::optional<std::string> title;
  std::optional<std::string> content;
  std::optional<std::string> error;
  uint64_t numeric = 0;
  bool flag = false;
};

/**
 * Document, connection and attachment events are bounded: past `limit` events (or kMaxBytes of content), a DocumentUpdated replaces the queued
 * update of the same document, and an AttachmentProgress the queued progress of the same transfer
 * — when no other event of that document or transfer follows it, so order is kept — and otherwise
 * the oldest event is dropped and counted. The
 * host learns of waiting events through a notify callback (once per drain) and an eventfd that
 * stays readable while the queue is not empty. A live query's diffs (kLiveQueryEvent) are never
 * dropped or merged — a watch applies each to the result before — and count toward no limit: they
 * wait in a queue of their own, and a drain hands out both in the order they came.
 */
class EventQueue {
 public:
  using Notify = void (*)(void *);

  /** Content bytes held at most, whatever the event count: large documents must not pile up unbounded. */
  static constexpr size_t kMaxBytes = 64u * 1024 * 1024;

  explicit EventQueue(size_t limit);
  ~EventQueue();
  EventQueue(const EventQueue &) = delete;
  EventQueue &operator=(const EventQueue &) = delete;

  void push(Event event);

  struct Batch {
    std::deque<Event> events;
    uint64_t dropped = 0;
  };
  /** Takes everything queued; re-arms the notify callback and clears the fd. */
  Batch drain();

  void set_notify(Notify notify, void *context);
  /** -1 when the eventfd (or pipe) could not be created. */
  int fd() const { return fd_; }
  size_t size();

 private:
  struct Slot {
    uint64_t seq;
    Event event;
  };
  static size_t BytesOf(const Event &e);
  /** What an event is about, for merging: a document, or one attachment's upload or download; nullopt: nothing to merge with. */
  static std::optional<std::string> SubjectOf(const Event &e);
  /** Whether the event, when the queue is full, replaces the queued one of its subject (DocumentUpdated, AttachmentProgress). */
  static bool Absorbs(const Event &e);
  /** Queues a bounded event (under mutex_): merged, or after dropping the oldest, when full. */
  void place(Event event);
  void DropOldest();
  std::mutex mutex_;
  std::deque<Slot> slots_;
  std::deque<Slot> live_;
  // subject (SubjectOf) → seq of its queued DocumentUpdated or AttachmentProgress, when that is the
  // subject's last queued event: what a later one of the same kind replaces when the queue is full.
  std::unordered_map<std::string, uint64_t> absorbing_;
  uint64_t next_seq_ = 0;
  size_t limit_;
  uint64_t dropped_ = 0;
  size_t bytes_ = 0;
  bool notified_ = false;
  // Held while notify runs, and by set_notify: a removed notify is never called afterwards.
  std::mutex notify_mutex_;
  bool signalled_ = false;
  Notify notify_ = nullptr;
  void *notify_context_ = nullptr;
  int fd_ = -1;
  /** The pipe's write end (SYNC_EVENT_PIPE builds only). */
  int write_fd_ = -1;
  /** Makes fd_ readable / not readable (under mutex_). */
  void signal();
  void unsignal();
};

}  // namespace sync_client
