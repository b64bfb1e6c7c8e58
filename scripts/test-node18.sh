#!/usr/bin/env bash
# Runs the client-ts test suite under Node 18.20.4, the Node version libsync_client embeds (Debian's
# libnode108), so "the engine runs on Node 18" is tested, not assumed.
#
#  1. builds build/node18/node18 from native/node18/main.cc (node::Start linked to libnode.so.108) unless
#     it is up to date. libnode.so.108 is hard-linked (else copied) next to it and found through an
#     $ORIGIN RPATH, so the launcher keeps working while native/tests/dist_test.sh renames the local
#     libnode prefix away;
#  2. checks that `node18 -p process.version` is v18.20.4;
#  3. builds better-sqlite3 for ABI 108 (scripts/build-embedded-sqlite.sh, skipped when up to date). The
#     default addon in node_modules is the system Node's (ABI 115): native/node18/sqlite-abi108.cjs,
#     preloaded through NODE_OPTIONS into every process, loads the ABI-108 build in its place — in the
#     test processes and in what they spawn (servers, the interactive example client, crash writers);
#  4. starts tap itself with node18, so tap's test processes (process.execPath) and the servers they
#     spawn (process.execPath too; uWebSockets.js ships an ABI-108 binary) all run on Node 18.
#
# Needs: npm ci and `npm run build` done (the tests spawn server/dist/cli.js through the fixture in
# test-support/dist), PostgreSQL as for `npm test`. Extra arguments go to tap, e.g.
# `bash scripts/test-node18.sh src/api.test.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export LIBNODE_ROOT="${LIBNODE_ROOT:-$(bash scripts/setup-libnode.sh | tail -n 1)}"

libnode=""
for d in "$LIBNODE_ROOT/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)" "$LIBNODE_ROOT/lib"; do
  if [ -e "$d/libnode.so.108" ]; then libnode=$(readlink -f "$d/libnode.so.108"); break; fi
done
[ -n "$libnode" ] || { echo "test-node18: libnode.so.108 not found under $LIBNODE_ROOT/lib" >&2; exit 1; }
incdir="$LIBNODE_ROOT/include/node"
[ -f "$incdir/node.h" ] || { echo "test-node18: $incdir/node.h not found (libnode-dev)" >&2; exit 1; }

out="$root/build/node18"
node18="$out/node18"
src=native/node18/main.cc
mkdir -p "$out"
if ! cmp -s "$libnode" "$out/libnode.so.108"; then
  rm -f "$out/libnode.so.108" "$node18"
  ln "$libnode" "$out/libnode.so.108" 2>/dev/null || cp "$libnode" "$out/libnode.so.108"
fi
if [ ! -x "$node18" ] || [ "$src" -nt "$node18" ]; then
  echo "test-node18: building $node18" >&2
  # -isystem: V8's headers are not -Wextra clean.
  ${CXX:-g++} -std=c++17 -O2 -Wall -Wextra -isystem "$incdir" "$src" -o "$node18.tmp" \
    -L"$out" -l:libnode.so.108 -pthread -Wl,-rpath,'$ORIGIN'
  mv -f "$node18.tmp" "$node18"
fi

version=$("$node18" -p "process.version")
if [ "$version" != "v18.20.4" ]; then
  echo "test-node18: $node18 reports $version, expected v18.20.4" >&2
  exit 1
fi
echo "test-node18: $node18 is Node $version (ABI $("$node18" -p process.versions.modules))" >&2

export SYNC_TEST_SQLITE_BINDING
SYNC_TEST_SQLITE_BINDING=$(bash scripts/build-embedded-sqlite.sh | tail -n 1)
shim="$root/native/node18/sqlite-abi108.cjs"
# Node 18 has no global `crypto` without --experimental-global-webcrypto. tap's process-info hook
# (uuid's v4) needs it and tap puts that hook into NODE_OPTIONS, so every process under tap needs the
# flag: NODE_OPTIONS carries it (and the sqlite shim) to all of them. The engine, core and server import
# node:crypto and do not use the global (the embedded runtime does not set this flag).
export NODE_OPTIONS="--experimental-global-webcrypto --require=$shim${NODE_OPTIONS:+ $NODE_OPTIONS}"
"$node18" -e "new (require('better-sqlite3-multiple-ciphers'))(':memory:').close()" || {
  echo "test-node18: better-sqlite3-multiple-ciphers does not load under Node 18 with $SYNC_TEST_SQLITE_BINDING" >&2
  exit 1
}
[ -f server/dist/cli.js ] && [ -f test-support/dist/index.js ] && [ -f client-ts/dist/src/index.js ] || { echo "test-node18: run 'npm run build' first" >&2; exit 1; }

# tap's bin, resolved from the project, started with node18: its workers then run on process.execPath.
tap_run=$("$node18" -p "const p = require.resolve('tap/package.json'); require('path').join(require('path').dirname(p), require(p).bin.tap)")
cd client-ts
exec "$node18" "$tap_run" "$@"
