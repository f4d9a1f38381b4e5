# dlock_add_test(NAME name SRCS a.cc... DEPS lib... LABELS unit|integration [WHOLE])
# One GoogleTest executable; each TEST becomes its own ctest test with the labels. WHOLE:
# the executable is one ctest test instead, for suites whose shared fixture is slow to
# start (a JVM server), so that it starts once.
include(GoogleTest)
function(dlock_add_test)
  cmake_parse_arguments(T "WHOLE" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main fmt::fmt)
  dlock_set_warnings(${T_NAME})
  if(T_WHOLE)
    add_test(NAME ${T_NAME} COMMAND ${T_NAME})
    set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT 300)
  else()
    gtest_discover_tests(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT 120
      DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
