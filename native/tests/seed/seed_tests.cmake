# The original README's C and C++ snippets (../shared/seed/snippets: 14, 15, 16, 17), compiled from
# that folder unchanged inside the wrappers beside this file (see seed_harness.h) and run against the
# fixture's live server through run_example.sh. The C++ ones at C++11, as the seed's g++ line asks;
# warnings are errors except the two the snippets' own code raises (an unused `context` parameter,
# a switch over a few event types), so a warning the SDK's headers cause — a [[nodiscard]] on
# register_callback, say — fails the build. Snippet 16 also runs under AddressSanitizer + UBSan and
# under valgrind, compiled as C and as C++. The CMake and compile-line snippets (18, 19) run
# against the dist package: seed_dist_test.sh.
# Where they are: $SYNC_SEED_DIR, else ../shared beside the clone, else the workspace's /work/shared
# (a clone made elsewhere, as a clean CI checkout may be). server/src/test-support/seed.ts looks the same way.
set(_seed_default "$ENV{SYNC_SEED_DIR}")
foreach(_candidate "${PROJECT_SOURCE_DIR}/../shared/seed/snippets" "/work/shared/seed/snippets")
  if(_seed_default STREQUAL "" AND EXISTS "${_candidate}/14.c")
    set(_seed_default "${_candidate}")
  endif()
endforeach()
set(SYNC_SEED_SNIPPETS_DIR "${_seed_default}" CACHE PATH "The original README's code blocks (14.c, 15.cpp, ...)")
set(_seed "${CMAKE_CURRENT_SOURCE_DIR}/seed")

if(NOT EXISTS "${SYNC_SEED_SNIPPETS_DIR}/14.c")
  message(WARNING "no seed snippets in ${SYNC_SEED_SNIPPETS_DIR} (set SYNC_SEED_SNIPPETS_DIR): the seed_snippet tests only report that")
  add_test(NAME seed_snippets_missing COMMAND ${CMAKE_COMMAND} -E echo "no seed snippets in ${SYNC_SEED_SNIPPETS_DIR}")
  set_tests_properties(seed_snippets_missing PROPERTIES WILL_FAIL ON)
  return()
endif()

# seed_snippet(NAME WRAPPER SNIPPET [LIBRARY lib] [CXX11]): the executable; tests are added separately.
function(seed_snippet name wrapper snippet)
  cmake_parse_arguments(S "CXX11" "LIBRARY" "" ${ARGN})
  if(NOT S_LIBRARY)
    set(S_LIBRARY sync_client::sync_client)
  endif()
  add_executable(${name} "${_seed}/${wrapper}")
  target_link_libraries(${name} PRIVATE ${S_LIBRARY} Threads::Threads)
  target_include_directories(${name} PRIVATE "${_seed}")
  target_compile_definitions(${name} PRIVATE "SEED_SNIPPET=\"${SYNC_SEED_SNIPPETS_DIR}/${snippet}\"")
  target_compile_options(${name} PRIVATE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-switch)
  if(S_CXX11)
    set_target_properties(${name} PROPERTIES CXX_STANDARD 11 CXX_STANDARD_REQUIRED ON)
  endif()
  file(MAKE_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/${name}.work")
endfunction()

# seed_snippet_test(TEST COMMAND... [ENV ...]): runs COMMAND in the test's own directory (the snippets
# use relative database files) with the fixture's server in SYNC_SERVER_URL & co.
function(seed_snippet_test test workdir)
  cmake_parse_arguments(T "" "TIMEOUT" "COMMAND;ENV" ${ARGN})
  add_test(NAME ${test} COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/run_example.sh" "${FIXTURE_ENV}" ${T_COMMAND}
    WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/${workdir}.work")
  set_tests_properties(${test} PROPERTIES FIXTURES_REQUIRED sync_server TIMEOUT ${T_TIMEOUT} ENVIRONMENT "${T_ENV}")
endfunction()

seed_snippet(seed_snippet_14 snippet_14.c 14.c)
seed_snippet(seed_snippet_15 snippet_15.cpp 15.cpp CXX11)
seed_snippet(seed_snippet_16 snippet_16.c 16.c)
seed_snippet(seed_snippet_16_cxx snippet_16_cxx.cpp 16.c CXX11)
seed_snippet(seed_snippet_17 snippet_17.cpp 17.cpp CXX11)
foreach(name seed_snippet_14 seed_snippet_15 seed_snippet_16 seed_snippet_16_cxx seed_snippet_17)
  seed_snippet_test(${name} ${name} COMMAND $<TARGET_FILE:${name}> TIMEOUT 90)
endforeach()

# Snippet 16 (sync_get_version + sync_string_free) under AddressSanitizer + UBSan, against the
# sanitized library (runtime_tests.cmake), with rt_sanitize's options and leak suppressions.
foreach(lang c cxx)
  set(wrapper snippet_16.c)
  set(extra "")
  if(lang STREQUAL "cxx")
    set(wrapper snippet_16_cxx.cpp)
    set(extra CXX11)
  endif()
  set(name seed_snippet_16_${lang}_asan)
  seed_snippet(${name} ${wrapper} 16.c LIBRARY sync_client_asan ${extra})
  target_compile_options(${name} PRIVATE ${SYNC_SANITIZE_FLAGS})
  target_link_options(${name} PRIVATE ${SYNC_SANITIZE_FLAGS})
  seed_snippet_test(${name} ${name} COMMAND $<TARGET_FILE:${name}> TIMEOUT 180 ENV ${SYNC_SANITIZE_ENV})
endforeach()

# The same two programs (the plain builds) under valgrind's memcheck: any invalid read, write or
# free, or a definite leak outside valgrind.supp's better-sqlite3 rules, fails the test.
find_program(SYNC_VALGRIND valgrind)
if(SYNC_VALGRIND)
  foreach(name seed_snippet_16 seed_snippet_16_cxx)
    seed_snippet_test(${name}_valgrind ${name} TIMEOUT 600 COMMAND "${SYNC_VALGRIND}" --error-exitcode=99 --leak-check=full
      --errors-for-leak-kinds=definite "--suppressions=${CMAKE_CURRENT_SOURCE_DIR}/valgrind.supp" $<TARGET_FILE:${name}>)
    # Not beside the plain run: both use the same database files in the same directory.
    set_tests_properties(${name}_valgrind PROPERTIES DEPENDS ${name})
  endforeach()
else()
  message(WARNING "valgrind not found (Debian: valgrind; scripts/install-native-deps.sh installs it): no seed_snippet_16*_valgrind tests")
endif()

# Snippets 18 and 19 against dist/ (seed_dist_test.sh). After dist_package, which may rebuild dist/;
# RUN_SERIAL for the same reason as dist_package (it may rename dist/ away while it runs).
add_test(NAME seed_dist COMMAND bash "${_seed}/seed_dist_test.sh" "${SYNC_SEED_SNIPPETS_DIR}")
set_tests_properties(seed_dist PROPERTIES FIXTURES_REQUIRED sync_server ENVIRONMENT "SYNC_TEST_ENV=${FIXTURE_ENV}" TIMEOUT 900
  RUN_SERIAL ON DEPENDS dist_package)

# The package in minimal Debian roots with none of libnode's libraries or JavaScript
# (native/tests/dist_portable_test.sh): snippet 14 built with snippet 19's gcc line, and a
# find_package consumer, built and run inside the root against the fixture's server. Debian 12 is the
# build machine's; Debian 13 has other ICU and OpenSSL packages (the real portability test). Skipped
# (77) only where this machine cannot make the chroot. Each waits for the one before it, so that
# ensure_dist.sh never builds dist/ twice at once; the roots are cached in /var/cache/sync-client-test.
set(_portable_after seed_dist)
foreach(_suite bookworm trixie)
  add_test(NAME dist_portable_${_suite} COMMAND bash "${PROJECT_SOURCE_DIR}/native/tests/dist_portable_test.sh" ${_suite}
    "${SYNC_SEED_SNIPPETS_DIR}")
  set_tests_properties(dist_portable_${_suite} PROPERTIES FIXTURES_REQUIRED sync_server ENVIRONMENT "SYNC_TEST_ENV=${FIXTURE_ENV}"
    TIMEOUT 900 SKIP_RETURN_CODE 77 DEPENDS ${_portable_after} LABELS portable)
  set(_portable_after dist_portable_${_suite})
endforeach()
