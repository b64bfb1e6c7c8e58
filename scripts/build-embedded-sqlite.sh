#!/usr/bin/env bash
# Builds better-sqlite3 (the version in package-lock.json) for the embedded runtime's ABI (libnode 18,
# NODE_MODULE_VERSION 108): the system Node's build (ABI 115) cannot load there. Output:
# build/embedded-sqlite/better_sqlite3.node. Skips the build when the output is newer than its inputs.
# npm's global config sets nodedir=/usr (Node 20's headers), so both the env var and the flag are
# overridden to point at libnode's headers.
set -euo pipefail
cd "$(dirname "$0")/.."
libnode_usr="${LIBNODE_ROOT:-$(bash scripts/setup-libnode.sh | tail -n 1)}"
pkg="node_modules/better-sqlite3"
out="build/embedded-sqlite/better_sqlite3.node"
version=$(node -p "require('./$pkg/package.json').version")
stamp="build/embedded-sqlite/version"
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
  echo "$PWD/$out"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$pkg" "$work/better-sqlite3"
rm -rf "$work/better-sqlite3/build"
(
  cd "$work/better-sqlite3"
  npm_config_nodedir="$libnode_usr" npx --yes node-gyp rebuild --release --nodedir="$libnode_usr" -j 2 >&2
)
mkdir -p "$(dirname "$out")"
cp "$work/better-sqlite3/build/Release/better_sqlite3.node" "$out"
echo "$version" > "$stamp"
echo "$PWD/$out"
