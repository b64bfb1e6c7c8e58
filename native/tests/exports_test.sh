#!/bin/sh
# exports_test.sh LIBRARY HEADER...: the shipped library exports exactly the functions its public
# headers declare (sync_client.h and the first generation's sync_client_compat.h) — no test hook
# (test_hooks.h lives only in the test builds), nothing internal, nothing declared but missing.
# Besides those, exactly one: uv_fs_open, which redirects libnode's reads of its JavaScript
# dependencies to the package's copies (native/src/node_builtins.cc, native/cmake/exports.map).
set -eu
library=$1
shift
work=$(mktemp -d "${TMPDIR:-/tmp}/sync-exports.XXXXXX")
trap 'rm -rf "$work"' EXIT
nm -D --defined-only "$library" | awk '$2 == "T" { print $3 }' | sort >"$work/exported"
# Declarations read "SYNC_API <type> <name>(", possibly with a pointer star before the name.
{ grep -h -o '^SYNC_API [^(]*(' "$@" | sed 's/($//; s/.*[ *]//'; echo uv_fs_open; } | sort >"$work/declared"
if ! diff "$work/declared" "$work/exported" >"$work/diff"; then
  echo "exports_test: < declared in the headers only, > exported by $(basename "$library") only:"
  cat "$work/diff"
  exit 1
fi
echo "exports_test: $(wc -l <"$work/exported") functions, the same in the headers and the library"
