# dlock_embed_lua(TARGET HEADER path.h NAMESPACE ns FILES a.lua...)
# Embeds Lua scripts in `TARGET` at build time: generates HEADER (a path like
# redis/lua_scripts.h, under the build's gen/, which the target includes from, as it does
# src/) with one std::string_view per file, and regenerates it when a file changes. Each
# text is its file's, less the header comment (EmbedLua.cmake); a script that uses another
# file's functions is joined with it by redis::Script (src/redis/client/client.h), the
# one place that joins them.
function(dlock_embed_lua target)
  cmake_parse_arguments(E "" "HEADER;NAMESPACE" "FILES" ${ARGN})
  set(out ${PROJECT_BINARY_DIR}/gen/${E_HEADER})
  list(TRANSFORM E_FILES PREPEND ${CMAKE_CURRENT_SOURCE_DIR}/)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DHEADER=${E_HEADER} -DNAMESPACE=${E_NAMESPACE}
            "-DFILES=${E_FILES}" -P ${PROJECT_SOURCE_DIR}/cmake/EmbedLua.cmake
    DEPENDS ${E_FILES} ${PROJECT_SOURCE_DIR}/cmake/EmbedLua.cmake
    COMMENT "Embedding the Lua scripts of ${E_HEADER}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
  target_include_directories(${target} PRIVATE ${PROJECT_BINARY_DIR}/gen)
endfunction()
