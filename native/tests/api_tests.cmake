# C API functional tests (C99, against the fixture's real server): opening and its refusals,
# document round trips, events, listener handles, conflicts, bad input on every function,
# concurrent callers.
set(_c_api_tests c_api_open c_api_documents c_api_events c_api_listeners c_api_conflicts c_api_bad_input c_api_threads)
sync_test(c_api_open SOURCES c_api_open.c harness.c TIMEOUT 60)
sync_test(c_api_documents SOURCES c_api_documents.c harness.c TIMEOUT 90)
sync_test(c_api_events SOURCES c_api_events.c harness.c TIMEOUT 90)
sync_test(c_api_listeners SOURCES c_api_listeners.c harness.c TIMEOUT 60)
sync_test(c_api_conflicts SOURCES c_api_conflicts.c harness.c TIMEOUT 90)
sync_test(c_api_bad_input SOURCES c_api_bad_input.c harness.c TIMEOUT 60)
sync_test(c_api_threads SOURCES c_api_threads.c harness.c TIMEOUT 120)

foreach(t IN LISTS _c_api_tests)
  set_target_properties(${t} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS OFF)
  target_compile_options(${t} PRIVATE -Wall -Wextra)
endforeach()
