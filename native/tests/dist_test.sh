#!/usr/bin/env bash
# ctest dist_package: the binary package works on its own.
#   1. Builds dist/ with scripts/build_dist.sh, unless its tarball is newer than every input (ensure_dist.sh).
#   2. Extracts the tarball into a fresh temp directory and checks its layout.
#   3. Hides the build trees' lib directories, the local libnode prefix (third_party/libnode) and the
#      unpacked dist/ from the consumer (and checks they are gone).
#   4. Builds a small C consumer with find_package(sync_client REQUIRED PATHS <extracted>) and
#      target_link_libraries(app sync_client::sync_client), runs it against the fixture's server with no
#      LD_LIBRARY_PATH and from an unrelated working directory: it creates a document, flushes and expects
#      count_pending == 0. Checks with ldd that every library resolves from the package or the system.
#   5. Compiles the same program with `pkg-config --cflags --libs sync_client` from the extracted
#      lib/pkgconfig and runs it on a fresh database: the first run's document must arrive from the server.
# Hiding (SYNC_DIST_TEST_HIDE): `namespace` (chosen when `unshare -m` works) runs steps 3-5 in a private
# mount namespace with empty directories mounted over those paths, so other processes (tests running
# from the same build tree at the same time) still see them; `rename` renames them away and a trap
# renames them back on every exit (a run killed outright is repaired by the next run).
# usage: dist_test.sh BUILD_DIR   (environment: SYNC_TEST_ENV = the fixture's env file;
#                                  SYNC_DIST_REBUILD=1 forces step 1)
set -euo pipefail
say() { echo "dist_test: $*"; }
fail() { echo "dist_test: FAIL: $*" >&2; exit 1; }
# ctest kills the test outright at its TIMEOUT (600 s), which no trap survives: every step run while the
# directories are hidden is bounded by what is left of this budget, so the trap always runs first.
export DIST_TEST_DEADLINE="${DIST_TEST_DEADLINE:-$(($(date +%s) + ${SYNC_DIST_TEST_BUDGET:-570}))}"
limit() { # limit CAP_SECONDS: the timeout for the next step
  local left=$((DIST_TEST_DEADLINE - $(date +%s) - 5))
  [ "$left" -gt 0 ] || fail "out of time (budget SYNC_DIST_TEST_BUDGET=${SYNC_DIST_TEST_BUDGET:-570} s)"
  echo $(("$1" < left ? "$1" : left))
}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: dist_test.sh BUILD_DIR}" && pwd)
envfile="${SYNC_TEST_ENV:?SYNC_TEST_ENV is not set (run through ctest)}"
[ -f "$envfile" ] || fail "no fixture file $envfile (the sync_server fixture starts the server)"
server_url=$(sed -n 's/^SERVER_URL=//p' "$envfile")
api_key=$(sed -n 's/^API_KEY=//p' "$envfile")
api_secret=$(sed -n 's/^API_SECRET=//p' "$envfile")
[ -n "$server_url" ] && [ -n "$api_key" ] && [ -n "$api_secret" ] || fail "incomplete fixture file $envfile"
version=$(sed -n 's/^#define SYNC_CLIENT_VERSION "\(.*\)"$/\1/p' "$root/native/include/sync_client.h")
[ -n "$version" ] || fail "no SYNC_CLIENT_VERSION in sync_client.h"
name="sync_client-$version"
tarball="$root/dist/$name-linux-x64.tar.gz"
hidden=("$build/lib" "$root/build/dist-build/lib" "$root/third_party/libnode" "$root/dist")

# ---- steps 3-5: run either here (rename mode) or in a private mount namespace ----------------------------
consume() { # consume TMP PKG
  local tmp=$1 pkg=$2 d
  for d in "${hidden[@]}"; do [ -z "$(ls -A "$d" 2>/dev/null)" ] || fail "${d#"$root"/} is still visible"; done
  mkdir -p "$tmp/consumer" "$tmp/run"
  # ---- 4. a consumer built with find_package ----------------------------------------------------------------
  cat >"$tmp/consumer/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.20)
project(dist_consumer C)
find_package(sync_client REQUIRED PATHS "$pkg")
string(FIND "\${sync_client_DIR}" "$pkg/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "sync_client found at \${sync_client_DIR}, not in the extracted package")
endif()
if(NOT sync_client_VERSION STREQUAL "$version")
  message(FATAL_ERROR "package version \${sync_client_VERSION}, header says $version")
endif()
add_executable(app app.c)
set_target_properties(app PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
target_compile_options(app PRIVATE -Wall -Wextra -Werror)
target_link_libraries(app sync_client::sync_client)
EOF
  cat >"$tmp/consumer/app.c" <<'EOF'
/* A consumer of the binary package: creates a document, flushes, expects nothing pending.
 * usage: app DB_PATH SERVER_URL API_KEY API_SECRET [ID_THAT_MUST_ARRIVE]; prints the new id on stdout. */
#include <stdio.h>
#include <string.h>

#include <sync_client.h>

static int failures = 0;
#define CHECK(cond)                                                                                   \
  do {                                                                                                \
    if (!(cond)) {                                                                                    \
      fprintf(stderr, "app.c:%d: CHECK failed: %s (%s)\n", __LINE__, #cond, sync_last_error_message()); \
      failures++;                                                                                     \
    }                                                                                                 \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: app DB_PATH SERVER_URL API_KEY API_SECRET [ID]\n");
    return 2;
  }
  CHECK(strcmp(sync_get_version(), SYNC_CLIENT_VERSION) == 0);
  struct CSyncEngine *engine = sync_engine_create(argv[1], argv[2], "dist-consumer@example.com", argv[3], argv[4]);
  if (!engine) {
    fprintf(stderr, "sync_engine_create failed: %s\n", sync_last_error_message());
    return 1;
  }
  char id[37] = {0};
  CHECK(sync_engine_create_document(engine, "{\"title\":\"from the dist package\",\"n\":1}", id) == SYNC_RESULT_SUCCESS);
  CHECK(strlen(id) == 36);
  CHECK(sync_engine_flush(engine, 30000) == SYNC_RESULT_SUCCESS);
  uint64_t pending = 12345;
  CHECK(sync_engine_count_pending(engine, &pending) == SYNC_RESULT_SUCCESS);
  CHECK(pending == 0);
  char *json = NULL;
  CHECK(sync_engine_get_document(engine, id, &json) == SYNC_RESULT_SUCCESS);
  CHECK(json != NULL && strstr(json, "from the dist package") != NULL);
  sync_string_free(json);
  if (argc == 6) { /* a document another process created and flushed: the flush's catch-up brought it */
    json = NULL;
    CHECK(sync_engine_get_document(engine, argv[5], &json) == SYNC_RESULT_SUCCESS);
    CHECK(json != NULL && strstr(json, "from the dist package") != NULL);
    sync_string_free(json);
  }
  sync_engine_destroy(engine);
  if (failures == 0) printf("%s\n", id);
  fprintf(stderr, "app: %s, pending %llu, %d failed\n", sync_get_version(), (unsigned long long)pending, failures);
  return failures == 0 ? 0 : 1;
}
EOF

  # Nothing from the developer's environment may point at the tree or a library directory.
  local clean_env=(env -u LD_LIBRARY_PATH -u LD_PRELOAD -u CMAKE_PREFIX_PATH -u PKG_CONFIG_PATH -u LIBNODE_ROOT -u CPATH
    -u LIBRARY_PATH -u C_INCLUDE_PATH)
  say "configuring and building the find_package consumer"
  timeout "$(limit 120)" "${clean_env[@]}" cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log" >&2; fail "consumer configure failed"; }
  timeout "$(limit 120)" "${clean_env[@]}" cmake --build "$tmp/consumer/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "consumer build failed"; }
  local app="$tmp/consumer/build/app"

  # Resolution through RPATH alone: libsync_client, libnode and the libraries it needs from the package,
  # nothing from the source tree.
  check_resolution() {
    local bin=$1 raw deps lib path
    raw=$("${clean_env[@]}" ldd "$bin")
    ! grep -q 'not found' <<<"$raw" || { echo "$raw" >&2; fail "$(basename "$bin"): unresolved libraries"; }
    deps=""
    while read -r lib path; do # "name path", the directory made canonical (pkg-config's paths hold lib/pkgconfig/../..)
      deps+="$lib $(realpath -m "$(dirname "$path")")/$(basename "$path")"$'\n'
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' <<<"$raw")
    grep -qxF "libsync_client.so.1 $pkg/lib/libsync_client.so.1" <<<"$deps" || { echo "$raw" >&2; fail "$(basename "$bin"): libsync_client not from the package"; }
    for l in libnode.so.108 libuv.so.1 libicuuc.so.72 libssl.so.3; do
      grep -qxF "$l $pkg/lib/$l" <<<"$deps" || { echo "$raw" >&2; fail "$(basename "$bin"): $l not from the package"; }
    done
    ! grep -qF "$root/" <<<"$deps" || { echo "$raw" >&2; fail "$(basename "$bin"): resolves a library inside the source tree"; }
  }
  check_resolution "$app"
  grep -E 'R(UN)?PATH' <<<"$(readelf -d "$app")" | grep -qF "$pkg/lib" || fail "app has no RPATH to the package's lib/"

  say "running the find_package consumer (no LD_LIBRARY_PATH, cwd $tmp/run)"
  local start first_id second_id
  start=$(date +%s%N)
  first_id=$(cd "$tmp/run" && timeout "$(limit 60)" "${clean_env[@]}" "$app" "$tmp/run/a.db" "$server_url" "$api_key" "$api_secret") ||
    fail "find_package consumer failed"
  say "find_package consumer: document $first_id synced in $((($(date +%s%N) - start) / 1000000)) ms"

  # ---- 5. the same program through pkg-config -----------------------------------------------------------
  local pc=(env -u PKG_CONFIG_PATH "PKG_CONFIG_LIBDIR=$pkg/lib/pkgconfig" pkg-config) flags
  [ "$("${pc[@]}" --modversion sync_client)" = "$version" ] || fail "pkg-config --modversion is not $version"
  flags=$("${pc[@]}" --cflags --libs sync_client)
  say "pkg-config: $flags"
  # shellcheck disable=SC2086
  timeout "$(limit 60)" "${clean_env[@]}" cc -std=c99 -Wall -Wextra -Werror "$tmp/consumer/app.c" $flags -o "$tmp/consumer/app_pc" ||
    fail "pkg-config build failed"
  check_resolution "$tmp/consumer/app_pc"
  second_id=$(cd "$tmp/run" && timeout "$(limit 60)" "${clean_env[@]}" "$tmp/consumer/app_pc" "$tmp/run/b.db" "$server_url" "$api_key" "$api_secret" "$first_id") ||
    fail "pkg-config consumer failed"
  [ "$second_id" != "$first_id" ] || fail "the two runs created the same id"
  say "pkg-config consumer: document $second_id synced, $first_id arrived from the server"
}

if [ "${2:-}" = __inside_namespace ]; then # re-run by the outer script under `unshare -m`
  empty="$3/empty"
  mkdir -p "$empty"
  for d in "${hidden[@]}"; do
    if [ -e "$d" ]; then mount --bind "$empty" "$d"; say "hid ${d#"$root"/} (private mount namespace)"; fi
  done
  consume "$3" "$4"
  exit 0
fi

# ---- rename mode: put back what an earlier run left renamed, and again on every exit ----------------------
suffix=".dist-test-away"
restore() {
  local d
  for d in "${hidden[@]}"; do
    if [ -e "$d$suffix" ] && [ ! -e "$d" ]; then mv "$d$suffix" "$d"; fi
    # Recreated meanwhile (a build, setup-libnode.sh): drop our copy if it is the same, else ask.
    if [ -e "$d$suffix" ] && diff -r --no-dereference -q "$d" "$d$suffix" >/dev/null 2>&1; then rm -rf "$d$suffix"; fi
    [ ! -e "$d$suffix" ] || echo "dist_test: $d$suffix differs from the recreated $d: keep one, remove the other" >&2
  done
}
restore
for d in "${hidden[@]}"; do [ ! -e "$d$suffix" ] || fail "$d$suffix exists beside $d"; done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sync-dist-test.XXXXXX")
cleanup() {
  local rc=$?
  restore
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---- 1. the package -----------------------------------------------------------------------------------
built=$(bash "$root/native/tests/ensure_dist.sh" "$(limit 480)") || fail "dist/ could not be built"
[ "$built" = "$tarball" ] || fail "ensure_dist.sh printed '$built', expected $tarball"

# ---- 2. extract into an unrelated directory ---------------------------------------------------------------
mkdir -p "$tmp/pkg"
tar -xzf "$tarball" -C "$tmp/pkg"
[ "$(ls "$tmp/pkg")" = "$name" ] || fail "tarball's top level is '$(ls "$tmp/pkg" | tr '\n' ' ')', expected $name/"
pkg=$(realpath "$tmp/pkg/$name")
for f in README.md include/sync_client.h include/sync_client.hpp include/sync_client_events.h \
  lib/libsync_client.so lib/libsync_client.so.1 lib/sync_client/sync_engine.js lib/sync_client/better_sqlite3.node \
  lib/cmake/sync_client/sync_clientConfig.cmake lib/cmake/sync_client/sync_clientConfigVersion.cmake \
  lib/cmake/sync_client/sync_clientTargets.cmake lib/pkgconfig/sync_client.pc examples/CMakeLists.txt; do
  [ -e "$pkg/$f" ] || fail "package lacks $f"
done
[ -L "$pkg/lib/libsync_client.so" ] && [ -L "$pkg/lib/libsync_client.so.1" ] || fail "libsync_client.so{,.1} are not symlinks"
[ "$(readelf -d "$pkg/lib/libsync_client.so.1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" = libsync_client.so.1 ] || fail "wrong SONAME"
[ -f "$pkg/lib/libnode.so.108" ] || fail "no libnode.so.108 in the package"
for p in "glibc 2" GLIBCXX_ licenses/ find_package pkg-config; do
  grep -q -- "$p" "$pkg/README.md" || fail "README.md does not mention $p"
done
# Self-contained (scripts/dist_runtime.sh): libnode's libraries and JavaScript, and their licenses.
for f in lib/libuv.so.1 lib/libicuuc.so.72 lib/libssl.so.3 lib/sync_client/nodejs/undici/undici-fetch.js \
  licenses/libnode108.copyright licenses/libicu72.copyright licenses/node-undici.copyright licenses/sync_client.txt; do
  [ -e "$pkg/$f" ] || fail "package lacks $f"
done
! grep -q '@VERSION@' "$pkg/README.md" || fail "README.md has an unreplaced @VERSION@"
for h in sync_client.h sync_client.hpp sync_client_events.h; do
  cmp -s "$root/native/include/$h" "$pkg/include/$h" || fail "packaged $h differs from the source"
done
diff -r "$root/native/examples" "$pkg/examples" >&2 || fail "packaged examples/ differ from native/examples"

# ---- 3-5 --------------------------------------------------------------------------------------------------
mode="${SYNC_DIST_TEST_HIDE:-auto}"
if [ "$mode" = auto ]; then
  if unshare -m --propagation private true 2>/dev/null; then mode=namespace; else mode=rename; fi
fi
case "$mode" in
  namespace)
    timeout "$(limit 560)" unshare -m --propagation private bash "$0" "$build" __inside_namespace "$tmp" "$pkg" ;;
  rename)
    for d in "${hidden[@]}"; do
      if [ -e "$d" ]; then mv "$d" "$d$suffix"; say "renamed ${d#"$root"/} away"; fi
    done
    consume "$tmp" "$pkg" ;;
  *) fail "SYNC_DIST_TEST_HIDE=$mode: expected namespace or rename" ;;
esac
echo "dist_package: 2 passed, 0 failed ($mode)"
