// What an engine's JavaScript side publishes for the C calls that answer without it.
#pragma once

#include <atomic>
#include <cstdint>

namespace sync_client {

/**
 * Written on the runtime's thread, read on any: the counts after each commit that may change them
 * (before the commit's events are queued, and before the C call that made it returns), and the
 * connection state as its ConnectionSucceeded / ConnectionLost events pass through the bridge.
 */
struct PublishedState {
  std::atomic<uint64_t> documents{0};
  std::atomic<uint64_t> pending{0};
  std::atomic<bool> connected{false};
};

}  // namespace sync_client
