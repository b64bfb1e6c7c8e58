#!/usr/bin/env bash
# Builds libsync_client (and its tests) and runs ctest. Needs: npm ci and npm run build done,
# PostgreSQL reachable at TEST_DATABASE_URL. Installs libnode into the project-local prefix first.
set -euo pipefail
cd "$(dirname "$0")/.."
export LIBNODE_ROOT="${LIBNODE_ROOT:-$(bash scripts/setup-libnode.sh | tail -n 1)}"
build="${SYNC_NATIVE_BUILD_DIR:-build/native}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIBNODE_ROOT="$LIBNODE_ROOT" >/dev/null
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure --timeout 600 "$@"
