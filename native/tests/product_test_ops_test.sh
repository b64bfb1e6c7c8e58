#!/bin/sh
# product_test_ops_test.sh TEST_OPS_TS PRODUCT_BUNDLE PRODUCT_LIBRARY TESTING_BUNDLE: no operation of
# native/js/contract/test-ops.ts is in the shipped engine bundle or library, while the test builds'
# bundle has each of them (so the search itself is shown to find them).
set -eu
ops_ts=$1 product_bundle=$2 product_library=$3 testing_bundle=$4
# The table's keys: two-space-indented "name: {" lines.
names=$(sed -n 's/^  \([a-z_][a-z_]*\): {.*/\1/p' "$ops_ts")
[ -n "$names" ] || { echo "product_test_ops: no operation found in $ops_ts"; exit 1; }
failed=0
for name in $names; do
  grep -q "$name" "$testing_bundle" || { echo "product_test_ops: $name is missing from $(basename "$testing_bundle")"; failed=1; }
  for shipped in "$product_bundle" "$product_library"; do
    if grep -q -a "$name" "$shipped"; then
      echo "product_test_ops: the test-only operation $name is in $(basename "$shipped")"
      failed=1
    fi
  done
done
[ "$failed" -eq 0 ] && echo "product_test_ops: $(echo "$names" | wc -w) test-only operations, none in the shipped bundle or library"
exit "$failed"
