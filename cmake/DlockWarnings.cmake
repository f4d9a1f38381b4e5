# dlock_set_warnings(target): the project's warnings, on its own targets only.
function(dlock_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion
    # Options structs are meant for designated initializers that name only what they change.
    -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # The locking contracts written as annotations (src/core/thread_annotations.h).
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
  if(DLOCK_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
