# C++ wrapper tests (sync_client.hpp, sync_client_events.h). C++17; harness.c (C) is compiled into
# each executable for the fixture's env and the CHECK/test_finish conventions.
sync_test(cpp_wrapper SOURCES cpp_wrapper.cpp harness.c TIMEOUT 90)
sync_test(cpp_events_header SOURCES cpp_events_header.cpp harness.c TIMEOUT 60)
sync_test(cpp_token_dispatch SOURCES cpp_token_dispatch.cpp harness.c TIMEOUT 60)
foreach(t cpp_wrapper cpp_events_header cpp_token_dispatch)
  set_target_properties(${t} PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  target_compile_options(${t} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>)
endforeach()

# A consumer that sets C++11 still builds: sync_client::sync_client carries cxx_std_17, which wins
# over the target's CXX_STANDARD. Needs no server.
add_executable(cpp_cxx11_consumer cpp_cxx11_consumer.cpp)
set_target_properties(cpp_cxx11_consumer PROPERTIES CXX_STANDARD 11 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
target_link_libraries(cpp_cxx11_consumer PRIVATE sync_client::sync_client)
add_test(NAME cpp_cxx11_consumer COMMAND cpp_cxx11_consumer)
set_tests_properties(cpp_cxx11_consumer PROPERTIES TIMEOUT 30 PASS_REGULAR_EXPRESSION "sync_client 0\\.1\\.0 \\(__cplusplus 2017")
