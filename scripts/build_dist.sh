#!/usr/bin/env bash
# Builds the C/C++ SDK's binary package from a clone (after `npm ci`):
#   dist/include/            sync_client.h, sync_client.hpp, sync_client_events.h
#   dist/lib/                libsync_client.so.1 (+ symlinks), sync_client/{sync_engine.js,better_sqlite3.node},
#                            libnode.so.108 unless the system has it, cmake/sync_client/, pkgconfig/sync_client.pc
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

# ---- libnode: ship it unless the dynamic linker finds it in a standard place -----------------------------
libnode_dir=""
for d in "$libnode_root/lib/x86_64-linux-gnu" "$libnode_root/lib" "$libnode_root/usr/lib/x86_64-linux-gnu"; do
  [ -e "$d/libnode.so.108" ] && { libnode_dir=$d; break; }
done
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
in_system() { grep -q "^[[:space:]]*$1 (.*x86-64" <<<"$(ldconfig -p 2>/dev/null)" ||
  [ -e "/lib/x86_64-linux-gnu/$1" ] || [ -e "/usr/lib/x86_64-linux-gnu/$1" ]; }
# Copies the NEEDED entries of $1 that the system lacks but the unpacked libnode prefix has, recursively
# (libnode.so.108 itself; libv8*.so too if a libnode build ever needs them).
ship_needed() {
  local dep
  for dep in $(needed "$1"); do
    [ -e "$lib/$dep" ] && continue
    in_system "$dep" && continue
    if [ -n "$libnode_dir" ] && [ -e "$libnode_dir/$dep" ]; then
      log "shipping $dep from $libnode_dir"
      cp -L "$libnode_dir/$dep" "$lib/$dep"
      chmod 0644 "$lib/$dep"
      ship_needed "$lib/$dep"
    fi
  done
}
ship_needed "$so"
ship_needed "$lib/sync_client/better_sqlite3.node"
# Everything must now resolve from the package or the system (the Debian runtime packages in the README).
missing=$( (ldd "$so"; ldd "$lib/sync_client/better_sqlite3.node") | grep 'not found' || true)
[ -z "$missing" ] || { log "unresolved libraries (install the runtime packages named in native/dist/README.md):"; echo "$missing" >&2; exit 1; }
if (ldd "$so"; ldd "$lib/sync_client/better_sqlite3.node") | grep -F "$root/" | grep -vF "$dist/" >&2; then
  log "the package resolves a library in the source tree outside dist/"; exit 1
fi

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
