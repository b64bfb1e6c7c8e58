#!/bin/sh
# rt_runtime_missing.sh PROGRAM LIBRARY: runs rt_runtime_missing's two cases.
#   package: /usr/share/nodejs/undici (Debian's node-undici, which libnode loads at start-up) hidden
#            under an empty bind mount in a private mount namespace, so nothing outside this test
#            sees it gone. Skipped, with a message, where `unshare -m` is not permitted.
#   bundle:  a copy of LIBRARY in a temp directory without the engine's files beside it.
set -eu
program=$1 library=$2
hidden=/usr/share/nodejs/undici
work=$(mktemp -d "${TMPDIR:-/tmp}/sync-rt-missing-sh.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/empty" "$work/lib"
if [ -d "$hidden" ] && unshare -m --propagation private true 2>/dev/null; then
  unshare -m --propagation private sh -c 'mount --bind "$1" "$2" && exec "$3" package "$2"' sh "$work/empty" "$hidden" "$program"
else
  echo "rt_runtime_missing: package case skipped ($hidden missing or unshare -m not permitted)"
fi
cp "$library" "$work/lib/libsync_client.so.1"
"$program" bundle "$work/lib/libsync_client.so.1"
