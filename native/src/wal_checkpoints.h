// WAL checkpoints of the engines' files, on a thread of this library's own: the engine's thread,
// which every C call waits for, never spends a checkpoint's copy and fsync (150–190 ms for a
// 64 MB log on this project's machines, which a C write arriving then waited out).
#pragma once

#include <string>

namespace sync_client {

/**
 * Asks for a checkpoint of the file at `path` (DocumentReader::checkpoint of its open reader) and
 * returns at once; a file already waiting is checkpointed once. Returns why the file's previous
 * checkpoint failed, if it did ("" otherwise): the caller, on the engine's thread, logs it — the
 * log callback runs only there.
 */
std::string RequestCheckpoint(const std::string &path);

}  // namespace sync_client
