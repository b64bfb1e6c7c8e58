#!/usr/bin/env bash
# ctest seed_dist: the original README's build instructions, as written, against dist/ (built by
# scripts/build_dist.sh, through ensure_dist.sh), each consumer then run against the fixture's server.
#   - Its CMakeLists.txt (snippet 18: CMAKE_CXX_STANDARD 11, find_package(... PATHS
#     /path/to/sync-workspace/dist), target_link_libraries(my_app sync_client)) verbatim, with
#     CMAKE_PREFIX_PATH pointing at dist/ in place of that placeholder path; main.cpp is snippet 17.
#     The compile must stay at C++11 (the package must not raise it).
#   - Its compile lines (snippet 19), verbatim but for `-framework Security` (macOS only), run in a
#     directory where ./dist is the package: gcc on snippets 16 and 14 (your_code.c), g++ -std=c++11 on
#     snippets 17 and 15 (your_code.cpp). The programs run with LD_LIBRARY_PATH=./dist/lib, as the
#     line links with -L only.
# Each your_code file is two lines: the snippet's path and the harness wrapper around it
# (native/tests/seed/snippet_NN.*, see seed_harness.h), so the snippet itself stays unchanged.
# usage: seed_dist_test.sh SNIPPETS_DIR   (environment: SYNC_TEST_ENV = the fixture's env file)
set -euo pipefail
say() { echo "seed_dist: $*"; }
fail() { echo "seed_dist: FAIL: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
snippets=$(cd "${1:?usage: seed_dist_test.sh SNIPPETS_DIR}" && pwd)
envfile="${SYNC_TEST_ENV:?SYNC_TEST_ENV is not set (run through ctest)}"
bash "$root/native/tests/ensure_dist.sh" 480 >/dev/null || fail "dist/ could not be built"
work=$(mktemp -d "${TMPDIR:-/tmp}/sync-seed-dist.XXXXXX")
trap 'rm -rf "$work"' EXIT

# your_code FILE NN WRAPPER: the two-line program around snippet NN.
your_code() {
  printf '#define SEED_SNIPPET "%s/%s"\n#include "%s/%s"\n' "$snippets" "$2" "$here" "$3" >"$1"
}
run() { # run DIR PROGRAM...: in DIR, against the fixture's server
  (cd "$1" && shift && timeout 120 sh "$root/native/tests/run_example.sh" "$envfile" "$@")
}

# ---- snippet 18: the CMake project ----------------------------------------------------------------------
mkdir "$work/cmake"
cp "$snippets/18.cmake" "$work/cmake/CMakeLists.txt"
your_code "$work/cmake/main.cpp" 17.cpp snippet_17.cpp
say "snippet 18: configure and build with CMAKE_PREFIX_PATH=$root/dist"
cmake -S "$work/cmake" -B "$work/cmake/build" -DCMAKE_PREFIX_PATH="$root/dist" >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "snippet 18: configure failed"; }
cmake --build "$work/cmake/build" --verbose >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "snippet 18: build failed"; }
grep -q -- '-std=gnu++11' "$work/build.log" || { grep -- '-std=' "$work/build.log"; fail "snippet 18: main.cpp was not compiled as C++11"; }
! grep -q -- '-std=gnu++17\|-std=c++17' "$work/build.log" || fail "snippet 18: the package raised the standard to C++17"
run "$work/cmake/build" ./my_app || fail "snippet 18: my_app failed"
say "snippet 18: my_app built at C++11 and ran"

# ---- snippet 19: the compile lines ------------------------------------------------------------------
gcc_line=$(grep '^gcc ' "$snippets/19.sh" | sed 's/ -framework Security//')
gxx_line=$(grep '^g++ ' "$snippets/19.sh" | sed 's/ -framework Security//')
[ -n "$gcc_line" ] && [ -n "$gxx_line" ] || fail "no gcc/g++ line in 19.sh"
for case in "gcc 16.c snippet_16.c your_code.c" "gcc 14.c snippet_14.c your_code.c" "g++ 17.cpp snippet_17.cpp your_code.cpp" \
  "g++ 15.cpp snippet_15.cpp your_code.cpp"; do
  set -- $case
  dir="$work/line-${2%%.*}"
  mkdir "$dir"
  ln -s "$root/dist" "$dir/dist"
  your_code "$dir/$4" "$2" "$3"
  line=$gcc_line
  [ "$1" = g++ ] && line=$gxx_line
  say "snippet 19 on snippet $2: $line"
  (cd "$dir" && sh -c "$line") || fail "snippet 19: '$line' failed on snippet $2"
  LD_LIBRARY_PATH=./dist/lib run "$dir" ./your_program || fail "snippet 19: snippet $2's program failed"
done
echo "seed_dist: 5 passed, 0 failed"
