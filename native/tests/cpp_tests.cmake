# C++ wrapper tests (sync_client.hpp, sync_client_events.h). C++17 test code; harness.c (C) is
# compiled into each executable for the fixture's env and the CHECK/test_finish conventions.
sync_test(cpp_wrapper SOURCES cpp_wrapper.cpp harness.c TIMEOUT 90)
sync_test(cpp_events_header SOURCES cpp_events_header.cpp harness.c TIMEOUT 60)
sync_test(cpp_callback_removal SOURCES cpp_callback_removal.cpp harness.c TIMEOUT 60)
sync_test(cpp_queries SOURCES cpp_queries.cpp harness.c TIMEOUT 60)
sync_test(cpp_attachments SOURCES cpp_attachments.cpp harness.c TIMEOUT 120)
foreach(t cpp_wrapper cpp_events_header cpp_callback_removal cpp_queries cpp_attachments)
  set_target_properties(${t} PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
  target_compile_options(${t} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra>)
endforeach()

# A consumer whose target asks for C++11 (as the seed's CMakeLists sets CMAKE_CXX_STANDARD 11) and
# links sync_client::sync_client: the library must leave the standard alone. Needs no server.
add_executable(cpp_cxx11_consumer cpp_cxx11_consumer.cpp)
set_target_properties(cpp_cxx11_consumer PROPERTIES CXX_STANDARD 11 CXX_STANDARD_REQUIRED ON CXX_EXTENSIONS OFF)
target_link_libraries(cpp_cxx11_consumer PRIVATE sync_client::sync_client)
add_test(NAME cpp_cxx11_consumer COMMAND cpp_cxx11_consumer)
set_tests_properties(cpp_cxx11_consumer PROPERTIES TIMEOUT 30 PASS_REGULAR_EXPRESSION "sync_client 0\\.1\\.0 \\(__cplusplus 201103\\)")

# cpp_standard_<compiler>_cxx<NN>: the wrapper at every supported standard, warnings as errors,
# compiled inside the test (a header that stops compiling fails that test, not the build) and run.
# g++ is the compiler this build uses when it is GCC; clang++ when installed (install-native-deps.sh).
set(_cxx_compilers "")
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND _cxx_compilers "gcc=${CMAKE_CXX_COMPILER}")
else()
  find_program(SYNC_GXX g++)
  if(SYNC_GXX)
    list(APPEND _cxx_compilers "gcc=${SYNC_GXX}")
  endif()
endif()
find_program(SYNC_CLANGXX clang++)
if(SYNC_CLANGXX)
  list(APPEND _cxx_compilers "clang=${SYNC_CLANGXX}")
else()
  message(WARNING "clang++ not found (Debian: clang; scripts/install-native-deps.sh installs it): no cpp_standard_clang_* tests")
endif()
foreach(entry IN LISTS _cxx_compilers)
  string(REPLACE "=" ";" entry "${entry}")
  list(GET entry 0 family)
  list(GET entry 1 compiler)
  foreach(std 11 14 17 20)
    # cpp_standard_<compiler>_cxx<NN> with the first generation's names, ..._no_compat without them (SYNC_NO_COMPAT).
    foreach(variant "" _no_compat)
      set(name cpp_standard_${family}_cxx${std}${variant})
      set(define "")
      if(variant)
        set(define SYNC_NO_COMPAT)
      endif()
      add_test(NAME ${name} COMMAND sh "${CMAKE_CURRENT_SOURCE_DIR}/cpp_standard_test.sh" "${compiler}" ${std}
        "${CMAKE_CURRENT_SOURCE_DIR}/cpp_standards.cpp" "${PROJECT_SOURCE_DIR}/native/include:${CMAKE_CURRENT_SOURCE_DIR}"
        "$<TARGET_FILE_DIR:sync_client>" sync_client "${CMAKE_CURRENT_BINARY_DIR}/${name}" ${define})
      set_tests_properties(${name} PROPERTIES TIMEOUT 120)
    endforeach()
  endforeach()
endforeach()
