# C API functional tests (C99, against the fixture's real server): opening and its refusals,
# document round trips, events, listener handles, conflicts, bad input on every function,
# concurrent callers, reads on the caller's thread while the engine writes and checkpoints, TLS trust,
# encryption at rest.
set(_c_api_tests c_api_open c_api_documents c_api_events c_api_listeners c_api_conflicts c_api_bad_input c_api_threads c_api_reads c_api_queries c_api_encryption
  c_api_attachments c_api_attachments_bad_input)
sync_test(c_api_open SOURCES c_api_open.c harness.c TIMEOUT 60)
sync_test(c_api_documents SOURCES c_api_documents.c harness.c TIMEOUT 90)
sync_test(c_api_events SOURCES c_api_events.c harness.c TIMEOUT 90)
sync_test(c_api_listeners SOURCES c_api_listeners.c harness.c TIMEOUT 60)
sync_test(c_api_conflicts SOURCES c_api_conflicts.c harness.c TIMEOUT 90)
sync_test(c_api_bad_input SOURCES c_api_bad_input.c harness.c TIMEOUT 60)
sync_test(c_api_threads SOURCES c_api_threads.c harness.c TIMEOUT 120)
sync_test(c_api_reads SOURCES c_api_reads.c harness.c TIMEOUT 120)
sync_test(c_api_queries SOURCES c_api_queries.c harness.c TIMEOUT 120)
# Encryption at rest: no text on disk, wrong/missing/short keys, rekey, key copies zeroed in memory.
sync_test(c_api_encryption SOURCES c_api_encryption.c harness.c TIMEOUT 120)

# Attachments: round trips of chunk-boundary sizes and a multi-MB file between two engines of a user
# through the server, download events, saves (online and offline); bad input on every function.
sync_test(c_api_attachments SOURCES c_api_attachments.c harness.c TIMEOUT 240)
sync_test(c_api_attachments_bad_input SOURCES c_api_attachments_bad_input.c harness.c TIMEOUT 60)

# Attachments between a C engine and a TypeScript engine (client-ts/dist) of one user, each way: 0 B, 1 B and
# 262143/262144/262145 B through memory, 200 MiB through files; the bytes' SHA-256 on both ends checked against
# the id. c_ts_attachments_test.mjs runs the TypeScript end and drives the C program (c_ts_attachments.c) through its stdin.
add_executable(c_ts_attachments c_ts_attachments.c harness.c)
target_link_libraries(c_ts_attachments PRIVATE sync_client::sync_client Threads::Threads)
target_include_directories(c_ts_attachments PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
add_test(NAME c_ts_attachments COMMAND node "${CMAKE_CURRENT_SOURCE_DIR}/c_ts_attachments_test.mjs" "${FIXTURE_ENV}" "$<TARGET_FILE:c_ts_attachments>")
set_tests_properties(c_ts_attachments PROPERTIES FIXTURES_REQUIRED sync_server TIMEOUT 120)
list(APPEND _c_api_tests c_ts_attachments)

# tls_ca_file against the real sync server over wss:// (tls-fixture.mjs starts it through the shared
# test fixture with a certificate a throwaway CA signed): trusted engines sync, untrusted ones are refused.
add_executable(c_api_tls c_api_tls.c harness.c)
target_link_libraries(c_api_tls PRIVATE sync_client::sync_client Threads::Threads)
target_include_directories(c_api_tls PRIVATE "${CMAKE_CURRENT_SOURCE_DIR}")
add_test(NAME c_api_tls COMMAND node "${CMAKE_CURRENT_SOURCE_DIR}/tls-fixture.mjs" "$<TARGET_FILE:c_api_tls>")
set_tests_properties(c_api_tls PROPERTIES TIMEOUT 90)
list(APPEND _c_api_tests c_api_tls)

foreach(t IN LISTS _c_api_tests)
  set_target_properties(${t} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
  target_compile_options(${t} PRIVATE -Wall -Wextra)
endforeach()

# Every C and C++ block of the SDK's documentation, and the examples that need no framework, compile
# (C99; C++11, 14, 17, 20; with and without SYNC_NO_COMPAT; warnings as errors) and, when a block is a
# program, it runs against the fixture's server: doc_blocks_test.sh. (FRAMEWORK_INTEGRATION.md's
# blocks are fragments of GLib/Qt/JUCE programs: the examples they come from are built and run.)
add_test(NAME doc_blocks COMMAND bash "${CMAKE_CURRENT_SOURCE_DIR}/doc_blocks_test.sh" "${CMAKE_C_COMPILER}" "${CMAKE_CXX_COMPILER}"
  "${PROJECT_SOURCE_DIR}/native/include" "$<TARGET_FILE_DIR:sync_client>"
  "${PROJECT_SOURCE_DIR}/README.md" "${PROJECT_SOURCE_DIR}/EVENT_CALLBACKS.md" "${PROJECT_SOURCE_DIR}/EXAMPLES.md" "${PROJECT_SOURCE_DIR}/TESTING.md"
  "${PROJECT_SOURCE_DIR}/native/dist/README.md"
  "${PROJECT_SOURCE_DIR}/native/examples/seed_example.c" "${PROJECT_SOURCE_DIR}/native/examples/seed_example.cpp@c++17")
set_tests_properties(doc_blocks PROPERTIES FIXTURES_REQUIRED sync_server ENVIRONMENT "SYNC_TEST_ENV=${FIXTURE_ENV}" TIMEOUT 600)
