# One ctest per built example (native/examples), each run against the fixture's live server through
# run_example.sh, which turns build/native/test-server.env into SYNC_SERVER_URL, SYNC_API_KEY and
# SYNC_API_SECRET. An example exits 0 only when its document went A -> B -> A.
# The Qt task list (qt_tasks) is an application, not a round trip: example_qt_tasks runs it on its
# own Xvfb display beside a TypeScript engine (qt_tasks_test.mjs) and leaves its screenshot in
# <build>/qt_tasks/qt_tasks.png.
#
# The top level adds native/tests before native/examples, so the example targets do not exist yet
# when this file is read: the tests are added by a call deferred to the end of the top-level
# directory, which registers them there (ctest runs them all the same; -R example selects them).
set_property(GLOBAL PROPERTY SYNC_EXAMPLE_TEST_ENV "${FIXTURE_ENV}")
set_property(GLOBAL PROPERTY SYNC_EXAMPLE_TEST_RUNNER "${CMAKE_CURRENT_SOURCE_DIR}/run_example.sh")
set_property(GLOBAL PROPERTY SYNC_QT_TASKS_TEST "${CMAKE_CURRENT_SOURCE_DIR}/qt_tasks_test.mjs")

function(sync_add_example_tests)
  get_property(targets GLOBAL PROPERTY SYNC_CLIENT_EXAMPLE_TARGETS)
  get_property(env_file GLOBAL PROPERTY SYNC_EXAMPLE_TEST_ENV)
  get_property(runner GLOBAL PROPERTY SYNC_EXAMPLE_TEST_RUNNER)
  if(NOT targets)
    message(STATUS "examples_tests: no example built (SYNC_CLIENT_BUILD_EXAMPLES=${SYNC_CLIENT_BUILD_EXAMPLES}): no example test")
    return()
  endif()
  foreach(target IN LISTS targets)
    if(NOT TARGET ${target})
      continue()
    endif()
    string(REGEX REPLACE "_example" "" short "${target}")
    add_test(NAME example_${short} COMMAND sh "${runner}" "${env_file}" "$<TARGET_FILE:${target}>")
    set_tests_properties(example_${short} PROPERTIES
      FIXTURES_REQUIRED sync_server
      TIMEOUT 60
      # each example has its own user; the two engines of one example share it
      ENVIRONMENT "SYNC_EMAIL=example-${short}@example.com;SYNC_EXAMPLE_TIMEOUT_S=45")
  endforeach()

  if(TARGET qt_tasks)
    find_program(SYNC_XVFB Xvfb)
    find_program(SYNC_IMPORT import)
    find_program(SYNC_IDENTIFY identify)
    if(SYNC_XVFB AND SYNC_IMPORT AND SYNC_IDENTIFY)
      get_property(qt_tasks_test GLOBAL PROPERTY SYNC_QT_TASKS_TEST)
      add_test(NAME example_qt_tasks COMMAND node "${qt_tasks_test}" "${env_file}" "$<TARGET_FILE:qt_tasks>" "${CMAKE_BINARY_DIR}/qt_tasks")
      set_tests_properties(example_qt_tasks PROPERTIES FIXTURES_REQUIRED sync_server TIMEOUT 120)
    else()
      message(STATUS "examples_tests: no example_qt_tasks (needs Xvfb and ImageMagick: apt-get install xvfb imagemagick)")
    endif()
  endif()
endfunction()

cmake_language(DEFER DIRECTORY "${sync_client_SOURCE_DIR}" CALL sync_add_example_tests)
