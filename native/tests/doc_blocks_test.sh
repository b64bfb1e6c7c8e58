#!/usr/bin/env bash
# doc_blocks_test.sh CC CXX INCLUDE_DIR LIB_DIR FILE...: every ```c and ```cpp block of the given
# Markdown files, and every given C or C++ source (the examples that need no framework; FILE@c++17
# starts at that standard), compiled on
# its own with -Wall -Wextra -Werror: C as C99, C++ as C++11, 14, 17 and 20, each with and without
# SYNC_NO_COMPAT. A block fenced ```c compat or ```cpp compat shows the first generation's names: it
# must compile without SYNC_NO_COMPAT and must fail with it (a mark that is not needed is an error).
# A Markdown block with a main() is then linked against libsync_client (C99 / C++11, the default
# header) and run in a directory of its own against the fixture's server (run_example.sh sets
# SYNC_SERVER_URL, SYNC_API_KEY, SYNC_API_SECRET); it must exit 0 within 60 s.
# (environment: SYNC_TEST_ENV = the fixture's env file)
set -euo pipefail
cc=$1 cxx=$2 include=$(cd "$3" && pwd) lib=$(cd "$4" && pwd)
shift 4
envfile="${SYNC_TEST_ENV:?SYNC_TEST_ENV is not set (run through ctest)}"
runner="$(cd "$(dirname "$0")" && pwd)/run_example.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/sync-doc-blocks.XXXXXX")
trap 'rm -rf "$work"' EXIT
compiled=0 ran=0 failed=0
report() { echo "doc_blocks: FAIL: $*" >&2; failed=$((failed + 1)); }

# compiles FILE WHERE COMPAT [FIRST_STANDARD]: every standard (from FIRST_STANDARD on), with and
# without SYNC_NO_COMPAT; COMPAT=1 expects the SYNC_NO_COMPAT compiles to fail.
compile_everywhere() {
  local file=$1 where=$2 compat=$3 first=${4:-} compiler standards std define
  case $file in
    *.c) compiler=$cc standards="c99" ;;
    *) compiler=$cxx standards="c++11 c++14 c++17 c++20" ;;
  esac
  [ -z "$first" ] || standards="$first${standards#*"$first"}"
  for std in $standards; do
    for define in "" -DSYNC_NO_COMPAT; do
      compiled=$((compiled + 1))
      local expect_failure=0
      if [ "$compat" = 1 ] && [ -n "$define" ]; then expect_failure=1; fi
      if "$compiler" "-std=$std" $define -Wall -Wextra -Werror "-I$include" -fsyntax-only "$file" 2>"$work/errors"; then
        if [ "$expect_failure" = 1 ]; then report "$where is marked compat but compiles with SYNC_NO_COMPAT ($std)"; fi
      elif [ "$expect_failure" = 0 ]; then
        cat "$work/errors" >&2
        report "$where does not compile ($std${define:+ $define})"
      fi
    done
  done
}

for doc in "$@"; do
  case $doc in
    *.md) ;;
    # A source may name the first standard it is written for: FILE@c++17.
    *@*) compile_everywhere "${doc%@*}" "${doc%@*}" 0 "${doc#*@}"; continue ;;
    *) compile_everywhere "$doc" "$doc" 0; continue ;;
  esac
  name=$(basename "$doc" .md)
  # Each block goes to $work/<doc>_<line of its fence>[_compat].<c|cpp>; the file names are printed.
  files=$(awk -v out="$work/$name" '
    !inside && /^```(c|cpp)( compat)?$/ {
      split(substr($0, 4), fence, " "); file = out "_" NR (fence[2] == "compat" ? "_compat" : "") "." fence[1]
      inside = 1; print file; next }
    inside && /^```$/ { inside = 0; close(file); next }
    inside { print > file }' "$doc")
  [ -n "$files" ] || { report "$doc has no C or C++ block"; continue; }
  for file in $files; do
    where="$doc:$(basename "$file" | sed 's/.*_\([0-9][0-9]*\)\(_compat\)\{0,1\}\..*/\1/')"
    compat=0
    case $file in *_compat.*) compat=1 ;; esac
    compile_everywhere "$file" "$where" "$compat"
    grep -q '^int main(' "$file" || continue
    case $file in
      *.c) link=("$cc" -std=c99) ;;
      *) link=("$cxx" -std=c++11) ;;
    esac
    program="${file%.*}.bin"
    "${link[@]}" -Wall -Wextra -Werror "-I$include" "$file" "-L$lib" -lsync_client "-Wl,-rpath,$lib" -o "$program" ||
      { report "$where does not link"; continue; }
    dir="${file%.*}.run"
    mkdir "$dir"
    echo "doc_blocks: running $where"
    (cd "$dir" && timeout 60 sh "$runner" "$envfile" "$program") || report "$where exited with $?"
    ran=$((ran + 1))
  done
done
echo "doc_blocks: $compiled compiles, $ran programs run, $failed failed"
[ "$failed" -eq 0 ]
