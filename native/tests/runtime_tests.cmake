# Runtime and robustness tests (rt_*): the bounded event queue under 100k events, process.exit in
# the runtime, call timeouts and safe retries, one SQLite shared by the engine and the reads,
# dlopen/dlclose/dlopen, X11's Success macro, destroy and create with the server unreachable, and a
# round trip under AddressSanitizer + UBSan.

# A test that needs no server: same as sync_test() without the fixture.
function(rt_local_test name)
  cmake_parse_arguments(T "" "TIMEOUT;LIBRARY" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LIBRARY)
    set(T_LIBRARY sync_client::sync_client)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBRARY} Threads::Threads ${T_LIBS})
  target_include_directories(${name} PRIVATE "${CMAKE_SOURCE_DIR}/native/src" "${CMAKE_CURRENT_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
endfunction()

# 100k creates without process_events: RSS growth < 50 MB; overflow SyncError; coalescing.
rt_local_test(rt_overflow SOURCES rt_overflow.c harness.c TIMEOUT 150)
# process.exit(3) inside the runtime: the host and the engine go on (a change still syncs).
sync_test(rt_process_exit SOURCES rt_process_exit.c harness.c TIMEOUT 60 LIBRARY sync_client_testing)
# call_timeout_ms = 300 against a blocked JS thread → SYNC_RESULT_TIMEOUT; the retry succeeds once; reads answer meanwhile.
rt_local_test(rt_timeout SOURCES rt_timeout.c harness.c TIMEOUT 60 LIBRARY sync_client_testing)
# The reads use the runtime's own SQLite (one copy in the process) and keep the engine's locks; a second copy would drop them.
rt_local_test(rt_sqlite_shared SOURCES rt_sqlite_shared.c harness.c TIMEOUT 60 LIBRARY sync_client_testing LIBS ${CMAKE_DL_LIBS})
# create/destroy with the server refused or silent; offline documents go out once a server starts.
sync_test(rt_destroy SOURCES rt_destroy.c harness.c TIMEOUT 90)

# dlopen → use → dlclose → dlopen → use, as a plug-in host does. Does not link the library.
add_executable(rt_dlopen rt_dlopen.c)
target_include_directories(rt_dlopen PRIVATE "${CMAKE_SOURCE_DIR}/native/include" "${CMAKE_CURRENT_SOURCE_DIR}")
target_compile_definitions(rt_dlopen PRIVATE "SYNC_CLIENT_LIBRARY_PATH=\"$<TARGET_SONAME_FILE:sync_client>\""
  "RT_DLOPEN_WORK_DIR=\"${CMAKE_CURRENT_BINARY_DIR}/rt_dlopen.work\"")
target_link_libraries(rt_dlopen PRIVATE ${CMAKE_DL_LIBS} Threads::Threads)
add_dependencies(rt_dlopen sync_client)
add_test(NAME rt_dlopen COMMAND rt_dlopen)
set_tests_properties(rt_dlopen PROPERTIES TIMEOUT 60)

# <X11/X.h> (a macro Success) before and after the headers, strict C99.
find_path(SYNC_X11_INCLUDE_DIR X11/X.h)
if(SYNC_X11_INCLUDE_DIR)
  foreach(name rt_x11 rt_x11_after)
    rt_local_test(${name} SOURCES ${name}.c TIMEOUT 30)
    target_include_directories(${name} PRIVATE "${SYNC_X11_INCLUDE_DIR}")
    set_target_properties(${name} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
    target_compile_options(${name} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  endforeach()
else()
  message(WARNING "X11/X.h not found (Debian: x11proto-dev): the rt_x11 tests are not built")
endif()

# ---- AddressSanitizer + UBSan ------------------------------------------------------------------
# A second copy of the library built from the same sources with the sanitizers, in lib-asan/ with
# the engine's runtime files beside it, and a functional round trip linked against it. UBSan's vptr
# check is off: libnode is built without RTTI, so it cannot link (typeinfo for node::… is missing).
# LeakSanitizer suppressions (lsan.supp) name allocating functions, never a whole module: see there.
set(SYNC_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
set(SYNC_ASAN_LIB_OUT "${CMAKE_BINARY_DIR}/lib-asan")

add_library(sync_client_asan_objects OBJECT ${SYNC_CLIENT_SOURCES} ${SYNC_CLIENT_TEST_HOOK_SOURCES})
sync_client_compile_settings(sync_client_asan_objects)
target_compile_options(sync_client_asan_objects PRIVATE ${SYNC_SANITIZE_FLAGS})
sync_client_library(sync_client_asan OBJECTS sync_client_asan_objects BUNDLE sync_engine_testing.js)
target_link_options(sync_client_asan PRIVATE ${SYNC_SANITIZE_FLAGS})
set_target_properties(sync_client_asan PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${SYNC_ASAN_LIB_OUT}")

# The library finds its engine bundle and SQLite module in sync_client/ next to its own file.
set(SYNC_ASAN_RUNTIME_FILES "${SYNC_ASAN_LIB_OUT}/sync_client/sync_engine_testing.js" "${SYNC_ASAN_LIB_OUT}/sync_client/better_sqlite3.node")
add_custom_command(
  OUTPUT ${SYNC_ASAN_RUNTIME_FILES}
  COMMAND ${CMAKE_COMMAND} -E make_directory "${SYNC_ASAN_LIB_OUT}/sync_client"
  COMMAND ${CMAKE_COMMAND} -E copy_if_different "${SYNC_RUNTIME_OUT}/sync_engine_testing.js" "${SYNC_RUNTIME_OUT}/better_sqlite3.node"
          "${SYNC_ASAN_LIB_OUT}/sync_client/"
  DEPENDS "${SYNC_RUNTIME_OUT}/sync_engine_testing.js" "${SYNC_RUNTIME_OUT}/better_sqlite3.node"
  COMMENT "Copying the engine's runtime files next to the sanitized library")
add_custom_target(sync_client_asan_runtime DEPENDS ${SYNC_ASAN_RUNTIME_FILES})
add_dependencies(sync_client_asan_runtime sync_client_runtime sync_client_testing_runtime)
add_dependencies(sync_client_asan sync_client_asan_runtime)

add_executable(rt_sanitize rt_sanitize.c harness.c)
target_compile_options(rt_sanitize PRIVATE ${SYNC_SANITIZE_FLAGS})
target_link_options(rt_sanitize PRIVATE ${SYNC_SANITIZE_FLAGS})
target_link_libraries(rt_sanitize PRIVATE sync_client_asan Threads::Threads ${CMAKE_DL_LIBS})
target_include_directories(rt_sanitize PRIVATE "${CMAKE_SOURCE_DIR}/native/src" "${CMAKE_CURRENT_SOURCE_DIR}")
target_compile_definitions(rt_sanitize PRIVATE "SYNC_ASAN_LIB_DIR=\"${SYNC_ASAN_LIB_OUT}\"")
set(SYNC_SANITIZE_ENV
  "SYNC_TEST_ENV=${FIXTURE_ENV}"
  "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=66"
  "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan.supp:print_suppressions=1"
  "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
add_test(NAME rt_sanitize COMMAND rt_sanitize)
set_tests_properties(rt_sanitize PROPERTIES FIXTURES_REQUIRED sync_server TIMEOUT 180 ENVIRONMENT "${SYNC_SANITIZE_ENV}")
# The same run with a leak planted in a callback on the runtime's thread: LeakSanitizer must report
# it (the suppressions do not hide leaks made under libnode's frames).
add_test(NAME rt_sanitize_lsan_live COMMAND rt_sanitize)
set_tests_properties(rt_sanitize_lsan_live PROPERTIES FIXTURES_REQUIRED sync_server TIMEOUT 180
  ENVIRONMENT "${SYNC_SANITIZE_ENV};RT_SANITIZE_PLANT_LEAK=1"
  PASS_REGULAR_EXPRESSION "Direct leak of [0-9]+ byte\\(s\\) in [0-9]+ object\\(s\\) allocated from:[^D]*leaky_log")

# A missing Debian runtime package and a missing engine bundle: sync_engine_open answers
# SYNC_RESULT_RUNTIME_UNAVAILABLE naming it, and succeeds once it is back. Does not link the library
# for the bundle case (dlopens a copy); see rt_runtime_missing.sh for how the package is hidden.
add_executable(rt_runtime_missing rt_runtime_missing.c harness.c)
target_link_libraries(rt_runtime_missing PRIVATE sync_client::sync_client ${CMAKE_DL_LIBS})
target_include_directories(rt_runtime_missing PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
target_compile_definitions(rt_runtime_missing PRIVATE "SYNC_RUNTIME_DIR=\"${SYNC_RUNTIME_OUT}\"")
add_test(NAME rt_runtime_missing COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/rt_runtime_missing.sh" "$<TARGET_FILE:rt_runtime_missing>"
  "$<TARGET_SONAME_FILE:sync_client>")
set_tests_properties(rt_runtime_missing PROPERTIES TIMEOUT 60)

# The shipped library's exported functions are exactly those sync_client.h and sync_client_compat.h declare.
add_test(NAME rt_exports COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/exports_test.sh" "$<TARGET_FILE:sync_client>"
  "${PROJECT_SOURCE_DIR}/native/include/sync_client.h" "${PROJECT_SOURCE_DIR}/native/include/sync_client_compat.h")
set_tests_properties(rt_exports PROPERTIES TIMEOUT 30)

# The test-only operations (contract/test-ops.ts) are in the test builds' bundle only: never in the
# shipped sync_engine.js or libsync_client.
add_test(NAME rt_product_has_no_test_ops COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/product_test_ops_test.sh"
  "${PROJECT_SOURCE_DIR}/native/js/contract/test-ops.ts" "${SYNC_RUNTIME_OUT}/sync_engine.js" "$<TARGET_FILE:sync_client>"
  "${SYNC_RUNTIME_OUT}/sync_engine_testing.js")
set_tests_properties(rt_product_has_no_test_ops PROPERTIES TIMEOUT 30)

# A file whose PRAGMA user_version is not the one the reads were generated for: SYNC_RESULT_DATABASE
# naming both versions, from a new read connection of a live engine and from sync_engine_open.
rt_local_test(rt_schema_version SOURCES rt_schema_version.cpp harness.c TIMEOUT 60 LIBRARY sync_client_testing)
set_target_properties(rt_schema_version PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
target_compile_definitions(rt_schema_version PRIVATE "SET_USER_VERSION_SCRIPT=\"${CMAKE_CURRENT_SOURCE_DIR}/set-user-version.mjs\"")

# The event queue on its own, in both wake-up variants: Linux's eventfd and the pipe other systems
# need (SYNC_EVENT_PIPE, docs/platforms.md). No library, no server: the queue's source and this test.
foreach(variant eventfd pipe)
  add_executable(event_queue_${variant} event_queue_test.cc "${CMAKE_SOURCE_DIR}/native/src/event_queue.cc")
  target_include_directories(event_queue_${variant} PRIVATE "${CMAKE_SOURCE_DIR}/native/src" "${CMAKE_SOURCE_DIR}/native/include")
  target_compile_features(event_queue_${variant} PRIVATE cxx_std_17)
  target_compile_options(event_queue_${variant} PRIVATE -Wall -Wextra)
  if(variant STREQUAL "pipe")
    target_compile_definitions(event_queue_${variant} PRIVATE SYNC_EVENT_PIPE)
  endif()
  add_test(NAME event_queue_${variant} COMMAND event_queue_${variant})
  set_tests_properties(event_queue_${variant} PROPERTIES TIMEOUT 30)
endforeach()
