#!/usr/bin/env bash
# Runs the client-ts test suite under Node 18.20.4, the Node version libsync_client embeds (Debian's
# libnode108), so "the engine runs on Node 18" is tested, not assumed.
#
#  1. builds build/node18/node18 (native/node18/main.cc: node::Start linked to libnode.so.108, with an
#     RPATH) unless it is newer than its source and the library;
#  2. checks that `node18 -p process.version` is v18.20.4;
#  3. builds better-sqlite3 for ABI 108 (scripts/build-embedded-sqlite.sh, skipped when up to date) and
#     exports SYNC_TEST_SQLITE_BINDING=<that .node>; the client-ts test harness hands it to the engine
#     as `nativeBinding` (the system Node's build is ABI 115 and cannot load under Node 18);
#  4. starts tap itself with node18, so tap's test processes (process.execPath) and the servers they
#     spawn (process.execPath as well; uWebSockets.js ships an ABI-108 binary) all run on Node 18.
#
# Needs: npm ci and `npm run build` done (the tests spawn server/dist/cli.js), PostgreSQL as for
# `npm test`. Extra arguments go to tap, e.g. `bash scripts/test-node18.sh src/api.test.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export LIBNODE_ROOT="${LIBNODE_ROOT:-$(bash scripts/setup-libnode.sh | tail -n 1)}"

libdir=""
for d in "$LIBNODE_ROOT/lib/x86_64-linux-gnu" "$LIBNODE_ROOT/lib/$(gcc -print-multiarch 2>/dev/null || true)" "$LIBNODE_ROOT/lib"; do
  if [ -e "$d/libnode.so.108" ]; then libdir=$d; break; fi
done
[ -n "$libdir" ] || { echo "test-node18: libnode.so.108 not found under $LIBNODE_ROOT/lib" >&2; exit 1; }
incdir="$LIBNODE_ROOT/include/node"
[ -f "$incdir/node.h" ] || { echo "test-node18: $incdir/node.h not found (libnode-dev)" >&2; exit 1; }

node18="$root/build/node18/node18"
src=native/node18/main.cc
if [ ! -x "$node18" ] || [ "$src" -nt "$node18" ] || [ "$libdir/libnode.so.108" -nt "$node18" ] || [ "$0" -nt "$node18" ]; then
  mkdir -p "$(dirname "$node18")"
  echo "test-node18: building $node18" >&2
  ${CXX:-g++} -std=c++17 -O2 -Wall -Wextra -isystem "$incdir" "$src" -o "$node18.tmp" \
    -L"$libdir" -l:libnode.so.108 -pthread -Wl,-rpath,"$libdir"
  mv -f "$node18.tmp" "$node18"
fi

version=$("$node18" -p "process.version")
if [ "$version" != "v18.20.4" ]; then
  echo "test-node18: $node18 reports $version, expected v18.20.4" >&2
  exit 1
fi
abi=$("$node18" -p "process.versions.modules")
echo "test-node18: $node18 is Node $version (ABI $abi)" >&2

export SYNC_TEST_SQLITE_BINDING
SYNC_TEST_SQLITE_BINDING=$(bash scripts/build-embedded-sqlite.sh | tail -n 1)
"$node18" -e "new (require('better-sqlite3'))(':memory:', { nativeBinding: process.argv[1] }).close()" "$SYNC_TEST_SQLITE_BINDING" || {
  echo "test-node18: $SYNC_TEST_SQLITE_BINDING does not load under Node 18" >&2
  exit 1
}
if ! grep -q SYNC_TEST_SQLITE_BINDING client-ts/src/test-support/harness.ts; then
  echo "test-node18: warning: client-ts/src/test-support/harness.ts does not read SYNC_TEST_SQLITE_BINDING;" \
    "engines will load the system Node's better-sqlite3 build (ABI 115) and fail under Node 18" >&2
fi
[ -f server/dist/cli.js ] && [ -d client-ts/dist ] || { echo "test-node18: run 'npm run build' first" >&2; exit 1; }

# tap's bin, resolved as npm would, started with node18: its workers then run on process.execPath.
tap_run=$("$node18" -p "const p = require.resolve('tap/package.json'); require('path').join(require('path').dirname(p), require(p).bin.tap)")
cd client-ts
# Node 18 has no global `crypto` without this flag. tap's process-info hook (uuid's v4) needs it, and tap
# puts that hook into NODE_OPTIONS, so every process under tap (tests, servers, child writers) needs the
# flag too: NODE_OPTIONS carries it to all of them. The engine, core and server import node:crypto and
# do not rely on the global (the embedded runtime does not set this flag).
export NODE_OPTIONS="--experimental-global-webcrypto${NODE_OPTIONS:+ $NODE_OPTIONS}"
exec "$node18" "$tap_run" "$@"
