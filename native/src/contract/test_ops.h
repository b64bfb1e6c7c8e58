// Generated from native/js/contract/test-ops.ts by native/js/contract/render-header.ts
// (npm run generate:contract -w native): do not edit. contract.test.ts fails when it is stale.
#pragma once

#include <cstdint>
#include <string>

#include "op_call.h"

namespace sync_client::ops {

/** test_process_exit: Calls process.exit(3) inside the runtime. */
inline Op<NoResult> TestProcessExit() { return {{"test_process_exit", {}}}; }

/** test_block: Keeps the runtime's thread busy for ms milliseconds (to provoke call timeouts). */
inline Op<NoResult> TestBlock(uint32_t ms) { return {{"test_block", {{"ms", Number(ms)}}}}; }

}  // namespace sync_client::ops
