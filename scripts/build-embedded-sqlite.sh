#!/usr/bin/env bash
# Builds better-sqlite3-multiple-ciphers (the engine's SQLite: better-sqlite3 over SQLite3 Multiple
# Ciphers, the version in package-lock.json) for the embedded runtime's ABI (libnode 18,
# NODE_MODULE_VERSION 108): the system Node's build (ABI 115) cannot load there. Output:
# build/embedded-sqlite/better_sqlite3.node. Skips the build when the output is newer than its inputs.
# npm's global config sets nodedir=/usr (Node 20's headers), so both the env var and the flag are
# overridden to point at libnode's headers.
#
# Unlike the package's own build, this one exports SQLite's C API (sqlite3_*) from the module:
# libsync_client answers reads on connections of its own and must use this very SQLite, not a copy
# of its own — two SQLite libraries in one process on one file break each other's POSIX locks.
# -Bsymbolic stays, so the module's own calls still bind inside it; Node loads it RTLD_LOCAL, so
# nothing else in the process sees these symbols unless it asks this module for them.
set -euo pipefail
cd "$(dirname "$0")/.."
libnode_usr="${LIBNODE_ROOT:-$(bash scripts/setup-libnode.sh | tail -n 1)}"
pkg="node_modules/better-sqlite3-multiple-ciphers"
out="build/embedded-sqlite/better_sqlite3.node"
version=$(node -p "require('./$pkg/package.json').version")
stamp="build/embedded-sqlite/version"
flavour="multiple-ciphers $version sqlite3-exported"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$flavour" ]; then
  echo "$PWD/$out"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$pkg" "$work/package"
rm -rf "$work/package/build"
grep -q "'-Wl,--exclude-libs,ALL'," "$work/package/binding.gyp"
sed -i "/'-Wl,--exclude-libs,ALL',/d" "$work/package/binding.gyp"
(
  cd "$work/package"
  npm_config_nodedir="$libnode_usr" npx --yes node-gyp rebuild --release --nodedir="$libnode_usr" -j 2 >&2
)
built="$work/package/build/Release/better_sqlite3.node"
# Not `nm | grep -q`: grep stopping at the first match can kill nm with SIGPIPE, and pipefail then fails the check.
# sqlite3_key_v2: the reads open encrypted files with the engine's key (SQLite3 Multiple Ciphers' API).
exports="$(nm -D --defined-only "$built")"
for symbol in sqlite3_libversion sqlite3_key_v2; do
  if ! grep -q " T $symbol\$" <<<"$exports"; then
    echo "build-embedded-sqlite: $built does not export $symbol" >&2
    exit 1
  fi
done
mkdir -p "$(dirname "$out")"
cp "$built" "$out"
echo "$flavour" > "$stamp"
echo "$PWD/$out"
