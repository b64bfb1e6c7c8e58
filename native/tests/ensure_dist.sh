#!/usr/bin/env bash
# ensure_dist.sh TIMEOUT_S: makes dist/ current for the tests that consume it (dist_package,
# seed_dist): runs scripts/build_dist.sh, within TIMEOUT_S, unless dist's tarball is newer than every
# input (SYNC_DIST_REBUILD=1 forces it). Prints the tarball's path last; progress goes to stderr.
set -euo pipefail
say() { echo "ensure_dist: $*" >&2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
budget=${1:?usage: ensure_dist.sh TIMEOUT_S}
version=$(sed -n 's/^#define SYNC_CLIENT_VERSION "\(.*\)"$/\1/p' "$root/native/include/sync_client.h")
[ -n "$version" ] || { say "no SYNC_CLIENT_VERSION in sync_client.h"; exit 1; }
tarball="$root/dist/sync_client-$version-linux-x64.tar.gz"
inputs=(CMakeLists.txt package-lock.json native/src native/include native/js native/cmake native/examples native/dist native/addon
  scripts/build_dist.sh scripts/dist_runtime.sh scripts/build-embedded-sqlite.sh client-ts/src core/src)
stale=""
if [ "${SYNC_DIST_REBUILD:-0}" = 1 ] || [ ! -f "$tarball" ]; then
  stale="forced or no tarball yet"
else
  present=()
  for i in "${inputs[@]}"; do [ ! -e "$root/$i" ] || present+=("$i"); done
  stale=$(cd "$root" && find "${present[@]}" -newer "$tarball" ! -name '*.test.ts' ! -path '*test-support*' -print -quit)
  [ -z "$stale" ] || stale="$stale is newer than the tarball"
fi
if [ -n "$stale" ]; then
  say "building the package ($stale)"
  start=$(date +%s)
  log=$(mktemp "${TMPDIR:-/tmp}/sync-build-dist.XXXXXX")
  built=$(timeout "$budget" bash "$root/scripts/build_dist.sh" 2>"$log" | tail -n 1) || {
    tail -n 40 "$log" >&2
    rm -f "$log"
    say "scripts/build_dist.sh failed"
    exit 1
  }
  rm -f "$log"
  [ "$built" = "$tarball" ] || { say "build_dist.sh printed '$built' last, expected $tarball"; exit 1; }
  say "build_dist.sh took $(($(date +%s) - start)) s"
else
  say "reusing $tarball (newer than its inputs)"
fi
echo "$tarball"
