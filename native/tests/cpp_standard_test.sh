#!/bin/sh
# cpp_standard_test.sh COMPILER STD SOURCE INCLUDE_DIRS LIB_DIR LIB OUT [DEFINE]: compiles SOURCE as
# C++STD with -Wall -Wextra -Wpedantic -Werror (and -DDEFINE, e.g. SYNC_NO_COMPAT) — the compile is
# the test's first half —, links it to LIB_DIR/libLIB.so and runs it. INCLUDE_DIRS is a colon-separated list.
set -eu
compiler=$1 std=$2 source=$3 includes=$4 lib_dir=$5 lib=$6 out=$7
flags=${8:+-D$8}
old_ifs=$IFS
IFS=:
for dir in $includes; do flags="$flags -I$dir"; done
IFS=$old_ifs
# shellcheck disable=SC2086
"$compiler" -std="c++$std" -Wall -Wextra -Wpedantic -Werror $flags "$source" -L"$lib_dir" -l"$lib" -Wl,-rpath,"$lib_dir" -o "$out"
exec "$out"
