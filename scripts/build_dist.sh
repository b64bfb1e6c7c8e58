#!/usr/bin/env bash
# Builds the C/C++ SDK's binary package from a clone (after `npm ci`):
#   dist/include/            sync_client.h, sync_client.hpp, sync_client_events.h
#   dist/lib/                libsync_client.so.1 (+ symlinks), sync_client/{sync_engine.js,better_sqlite3.node},
#                            libnode.so.108 and the libraries it needs (ICU, OpenSSL, libuv, ...; not glibc or
#                            libstdc++), sync_client/nodejs/ (libnode's JavaScript dependencies),
#                            cmake/sync_client/, pkgconfig/sync_client.pc
#   dist/licenses/           the license of everything shipped
#   dist/examples/           native/examples as it is
#   dist/README.md           from native/dist/README.md
#   dist/sync_client-<version>-linux-x64.tar.gz   all of the above under sync_client-<version>/
# Uses its own Release build directory (build/dist-build, override with SYNC_DIST_BUILD_DIR); runs
# `npm run build` (the engine bundle imports the built @json-sync/core) and scripts/setup-libnode.sh.
# Progress goes to stderr; the tarball's path is the last line on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build="${SYNC_DIST_BUILD_DIR:-build/dist-build}"
dist="$root/dist"
log() { echo "build_dist: $*" >&2; }

[ -d node_modules ] || { log "node_modules missing: run npm ci first"; exit 1; }
version=$(sed -n 's/^#define SYNC_CLIENT_VERSION "\(.*\)"$/\1/p' native/include/sync_client.h)
[ -n "$version" ] || { log "no SYNC_CLIENT_VERSION in native/include/sync_client.h"; exit 1; }
name="sync_client-$version"
tarball="$dist/$name-linux-x64.tar.gz"

log "npm run build"
npm run build >&2
log "libnode"
libnode_root="${LIBNODE_ROOT:-$(bash scripts/setup-libnode.sh | tail -n 1)}"
[ -n "$libnode_root" ] || { log "scripts/setup-libnode.sh printed no prefix"; exit 1; }

log "configure $build (Release)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DLIBNODE_ROOT="$libnode_root" \
  -DCMAKE_INSTALL_PREFIX="$dist" -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_INSTALL_INCLUDEDIR=include \
  -DSYNC_CLIENT_BUILD_TESTS=OFF -DSYNC_CLIENT_BUILD_EXAMPLES=OFF >&2
log "build"
cmake --build "$build" -j "$(nproc)" >&2
rm -rf "$dist"
log "install into $dist"
cmake --install "$build" --strip >&2

lib="$dist/lib"
so="$lib/libsync_client.so.1"
for f in include/sync_client.h include/sync_client.hpp include/sync_client_events.h lib/libsync_client.so.1 lib/libsync_client.so \
  lib/sync_client/sync_engine.js lib/sync_client/better_sqlite3.node lib/cmake/sync_client/sync_clientConfig.cmake \
  lib/cmake/sync_client/sync_clientTargets.cmake lib/pkgconfig/sync_client.pc; do
  [ -e "$dist/$f" ] || { log "install produced no $f"; exit 1; }
done
# The installed library must find its neighbours through $ORIGIN only, never through the build machine's paths.
runpath=$(readelf -d "$so" | sed -n 's/.*(\(RUNPATH\|RPATH\)).*\[\(.*\)\]/\2/p')
[ "$runpath" = '$ORIGIN' ] || { log "libsync_client.so.1 has RUNPATH '$runpath', expected \$ORIGIN"; exit 1; }

# ---- the runtime: libnode, every library it needs beyond glibc and libstdc++, its JavaScript -----------
# scripts/dist_runtime.sh: copies them into lib/ with RUNPATH $ORIGIN, the JavaScript files into
# lib/sync_client/nodejs/, their licenses into licenses/, and checks the glibc floor the README states.
bash scripts/dist_runtime.sh "$dist" "$libnode_root" >&2

# ---- examples, README, tarball ------------------------------------------------------------------------
mkdir -p "$dist/examples"
cp -a native/examples/. "$dist/examples/"
sed "s/@VERSION@/$version/g" native/dist/README.md > "$dist/README.md"

log "packing $tarball"
tmp_tar="$build/$name-linux-x64.tar.gz"
# Members are renamed ./x -> sync_client-<version>/x; symlink targets (flags=r) stay relative.
tar -C "$dist" --sort=name --owner=0 --group=0 --numeric-owner --transform "flags=r;s,^\.,$name," -czf "$tmp_tar" .
mv "$tmp_tar" "$tarball"
echo "$tarball"
