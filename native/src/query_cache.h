// The statements an engine's queries compiled to, by query text, so that a query the C side ran
// before is answered without a call to the engine's thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sync_client {

class QueryCache {
 public:
  /** Query texts kept; past that the cache starts over (an application runs a few dozen shapes). */
  static constexpr size_t kCapacity = 256;

  /**
   * The statement compiled for `query` while the file's schema cookie was `schema` (an index created
   * or dropped since makes it stale): true and *sql set — "" when only the engine's own connection
   * can run the query — or false.
   */
  bool find(const std::string &query, int64_t schema, std::string *sql) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(query);
    if (it == entries_.end() || it->second.schema != schema) return false;
    *sql = it->second.sql;
    return true;
  }

  void put(const std::string &query, int64_t schema, const std::string &sql) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() >= kCapacity && entries_.find(query) == entries_.end()) entries_.clear();
    entries_[query] = Entry{schema, sql};
  }

 private:
  struct Entry {
    int64_t schema;
    std::string sql;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace sync_client
