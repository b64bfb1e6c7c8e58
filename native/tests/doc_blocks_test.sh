#!/usr/bin/env bash
# doc_blocks_test.sh CC CXX INCLUDE_DIR LIB_DIR DOC...: every ```c and ```cpp block of the given
# Markdown files, compiled on its own — C as C99, C++ as C++11, -Wall -Wextra -Werror — and, when it
# has a main(), linked against libsync_client and run in a directory of its own against the fixture's
# server (run_example.sh sets SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET); it must exit 0 within
# 60 s. (environment: SYNC_TEST_ENV = the fixture's env file)
set -euo pipefail
cc=$1 cxx=$2 include=$(cd "$3" && pwd) lib=$(cd "$4" && pwd)
shift 4
envfile="${SYNC_TEST_ENV:?SYNC_TEST_ENV is not set (run through ctest)}"
runner="$(cd "$(dirname "$0")" && pwd)/run_example.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/sync-doc-blocks.XXXXXX")
trap 'rm -rf "$work"' EXIT
compiled=0 ran=0 failed=0
report() { echo "doc_blocks: FAIL: $*" >&2; failed=$((failed + 1)); }
for doc in "$@"; do
  name=$(basename "$doc" .md)
  # Each block goes to $work/<doc>_<line of its fence>.<c|cpp>; the file names are printed.
  files=$(awk -v out="$work/$name" '
    !inside && /^```(c|cpp)$/ { ext = substr($0, 4); file = out "_" NR "." ext; inside = 1; print file; next }
    inside && /^```$/ { inside = 0; close(file); next }
    inside { print > file }' "$doc")
  [ -n "$files" ] || { report "$doc has no C or C++ block"; continue; }
  for file in $files; do
    where="$doc:$(basename "$file" | sed 's/.*_\([0-9]*\)\..*/\1/')"
    case $file in
      *.c) compile=("$cc" -std=c99) ;;
      *) compile=("$cxx" -std=c++11) ;;
    esac
    compile+=(-Wall -Wextra -Werror "-I$include" "$file")
    compiled=$((compiled + 1))
    if ! grep -q '^int main(' "$file"; then
      "${compile[@]}" -c -o "${file%.*}.o" || report "$where does not compile"
      continue
    fi
    program="${file%.*}.bin"
    "${compile[@]}" "-L$lib" -lsync_client "-Wl,-rpath,$lib" -o "$program" || { report "$where does not compile"; continue; }
    dir="${file%.*}.run"
    mkdir "$dir"
    echo "doc_blocks: running $where"
    (cd "$dir" && timeout 60 sh "$runner" "$envfile" "$program") || report "$where exited with $?"
    ran=$((ran + 1))
  done
done
echo "doc_blocks: $compiled blocks compiled, $ran run, $failed failed"
[ "$failed" -eq 0 ]
