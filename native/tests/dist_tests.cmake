# dist_package (native/tests/dist_test.sh): scripts/build_dist.sh's tarball, extracted into an unrelated
# directory, with the build trees' lib directories, third_party/libnode and dist/ hidden (a private mount
# namespace where `unshare -m` works, else renamed away and back), builds and runs a consumer through
# find_package and through pkg-config against the fixture's server. RUN_SERIAL: in rename mode the other
# tests' library directory is not where they expect it while this runs. Rebuilding dist/ from scratch is
# a separate Release build (a few minutes on 2 cores), hence the timeout; an up-to-date dist/ is reused.
add_test(NAME dist_package COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/dist_test.sh" "${CMAKE_BINARY_DIR}")
set_tests_properties(dist_package PROPERTIES
  FIXTURES_REQUIRED sync_server
  ENVIRONMENT "SYNC_TEST_ENV=${FIXTURE_ENV}"
  TIMEOUT 600
  RUN_SERIAL ON)
