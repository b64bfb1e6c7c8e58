#!/bin/sh
# exports_test.sh LIBRARY HEADER: the shipped library exports exactly the functions its public
# header declares — no test hook (sync_client_test_call lives only in the test builds), nothing
# internal, nothing declared but missing.
set -eu
library=$1 header=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/sync-exports.XXXXXX")
trap 'rm -rf "$work"' EXIT
nm -D --defined-only "$library" | awk '$2 == "T" { print $3 }' | sort >"$work/exported"
# Declarations read "SYNC_API <type> <name>(", possibly with a pointer star before the name.
grep -o '^SYNC_API [^(]*(' "$header" | sed 's/($//; s/.*[ *]//' | sort >"$work/declared"
if ! diff "$work/declared" "$work/exported" >"$work/diff"; then
  echo "exports_test: < declared in $(basename "$header") only, > exported by $(basename "$library") only:"
  cat "$work/diff"
  exit 1
fi
echo "exports_test: $(wc -l <"$work/exported") functions, the same in the header and the library"
