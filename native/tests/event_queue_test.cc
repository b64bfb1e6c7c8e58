// The event queue's contract, for the eventfd and the pipe variant alike: the fd is readable from
// the first event after a drain until the next drain; a drain hands out everything in order; when
// full, a DocumentUpdated replaces the queued update of its document and an AttachmentProgress the
// queued progress of its transfer, other events drop the oldest (and are counted); live query diffs are never dropped or merged, and keep their place in the order.
#include <poll.h>

#include <cstdio>
#include <string>

#include "contract/engine_ops.h"
#include "event_queue.h"

using sync_client::Event;
using sync_client::EventQueue;

static int failures = 0;
#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                         \
    }                                                                     \
  } while (0)

static bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static Event event(int type, const std::string &doc, const std::string &content = "") {
  Event e;
  e.type = type;
  if (!doc.empty()) e.document_id = doc;
  if (!content.empty()) e.content = content;
  return e;
}

static Event diff(uint64_t watch, const std::string &json) {
  Event e;
  e.type = sync_client::ops::kLiveQueryEvent;
  e.numeric = watch;
  e.content = json;
  return e;
}

int main() {
  EventQueue queue(3);
  int fd = queue.fd();
  CHECK(fd >= 0);
  CHECK(!readable(fd));

  queue.push(event(SYNC_EVENT_DOCUMENT_CREATED, "a"));
  CHECK(readable(fd));
  queue.push(event(SYNC_EVENT_DOCUMENT_CREATED, "b"));
  CHECK(readable(fd));
  EventQueue::Batch batch = queue.drain();
  CHECK(batch.events.size() == 2 && batch.dropped == 0);
  CHECK(!readable(fd));
  CHECK(queue.drain().events.empty());
  CHECK(!readable(fd));

  // Full: an update of a queued document replaces its update; anything else drops the oldest.
  queue.push(event(SYNC_EVENT_DOCUMENT_UPDATED, "a", "{\"v\":1}"));
  queue.push(event(SYNC_EVENT_DOCUMENT_CREATED, "b"));
  queue.push(diff(7, "{\"first\":true}"));
  queue.push(event(SYNC_EVENT_DOCUMENT_CREATED, "c"));
  queue.push(event(SYNC_EVENT_DOCUMENT_UPDATED, "a", "{\"v\":2}"));  // full: replaces a's update
  queue.push(diff(7, "{\"second\":true}"));
  queue.push(event(SYNC_EVENT_DOCUMENT_CREATED, "d"));  // full: drops the oldest (a's update)
  batch = queue.drain();
  CHECK(batch.dropped == 1);
  std::string order;
  for (const Event &e : batch.events) order += (e.type == sync_client::ops::kLiveQueryEvent ? "diff:" + *e.content : *e.document_id) + " ";
  CHECK(order == "b diff:{\"first\":true} c diff:{\"second\":true} d ");
  if (order != "b diff:{\"first\":true} c diff:{\"second\":true} d ") std::fprintf(stderr, "order: %s\n", order.c_str());

  // Full: an attachment's progress replaces the queued progress of the same transfer (an upload and
  // a download of it are two), never across its end.
  auto progress = [](int type, bool upload, uint64_t bytes) {
    Event e = event(type, "", "{\"$attachment\":\"sha256-aa\"}");
    e.flag = upload;
    e.numeric = bytes;
    return e;
  };
  queue.push(progress(SYNC_EVENT_ATTACHMENT_PROGRESS, true, 1));
  queue.push(progress(SYNC_EVENT_ATTACHMENT_PROGRESS, false, 10));
  queue.push(progress(SYNC_EVENT_ATTACHMENT_PROGRESS, true, 2));
  queue.push(progress(SYNC_EVENT_ATTACHMENT_PROGRESS, true, 3));    // full: replaces the upload's 2
  queue.push(progress(SYNC_EVENT_ATTACHMENT_PROGRESS, false, 20));  // full: replaces the download's 10
  queue.push(progress(SYNC_EVENT_ATTACHMENT_COMPLETED, true, 4));   // full: drops the oldest (the upload's 1)
  queue.push(progress(SYNC_EVENT_ATTACHMENT_PROGRESS, true, 5));    // full, but after the upload's end: drops the oldest (the download's 20)
  batch = queue.drain();
  CHECK(batch.dropped == 2);
  order.clear();
  for (const Event &e : batch.events) order += std::to_string(e.type) + (e.flag ? "u" : "d") + std::to_string(e.numeric) + " ";
  CHECK(order == "10u3 11u4 10u5 ");
  if (order != "10u3 11u4 10u5 ") std::fprintf(stderr, "order: %s\n", order.c_str());

  // Diffs alone past the limit: every one kept, in order.
  for (int i = 0; i < 100; i++) queue.push(diff(1, std::to_string(i)));
  CHECK(readable(fd));
  batch = queue.drain();
  CHECK(batch.events.size() == 100 && batch.dropped == 0 && *batch.events.front().content == "0" && *batch.events.back().content == "99");
  CHECK(!readable(fd));

  std::printf("event_queue (%s): %s\n",
#ifdef SYNC_EVENT_PIPE
              "pipe",
#else
              "eventfd",
#endif
              failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}
