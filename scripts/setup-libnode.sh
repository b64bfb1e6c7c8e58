#!/usr/bin/env bash
# Installs what the native SDK needs to build and run against Debian's Node 18 library (libnode108):
# the runtime packages through apt, and libnode108 + libnode-dev unpacked into a project-local,
# git-ignored prefix (third_party/libnode), because apt refuses libnode-dev beside NodeSource's nodejs.
# Idempotent: a second run only checks. Prints the prefix (LIBNODE_ROOT) on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix="${LIBNODE_PREFIX:-$PWD/third_party/libnode}"
runtime_pkgs=(libuv1-dev libc-ares2 libicu72 libnghttp2-14 libbrotli1 libssl3 node-cjs-module-lexer node-undici node-acorn)

missing=()
for p in "${runtime_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-libnode: installing ${missing[*]}" >&2
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
fi

if [ ! -f "$prefix/usr/include/node/node.h" ] || ! ls "$prefix"/usr/lib/x86_64-linux-gnu/libnode.so.108* >/dev/null 2>&1; then
  echo "setup-libnode: unpacking libnode108 and libnode-dev into $prefix" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download libnode108 libnode-dev >/dev/null 2>&1) || {
    apt-get update -qq
    (cd "$work" && apt-get download libnode108 libnode-dev >/dev/null)
  }
  mkdir -p "$prefix"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$prefix"; done
fi
# libnode-dev ships the unversioned symlink; make sure it points at the library we unpacked.
lib="$prefix/usr/lib/x86_64-linux-gnu"
[ -e "$lib/libnode.so" ] || ln -sf libnode.so.108 "$lib/libnode.so"
test -f "$prefix/usr/include/node/node.h"
test -e "$lib/libnode.so.108"
echo "$prefix/usr"
