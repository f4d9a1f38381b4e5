# cmake -DOUT=header.h -DNAMESPACE=ns -DFILES=a.lua;b.lua -P EmbedLua.cmake
# (see DlockEmbedLua.cmake). Writes one `inline constexpr std::string_view k<Name>` per Lua
# file, named after it (line_prelude.lua: kLinePrelude). A file starts with its header, the
# comment lines that say what it does: they become the constant's comment, and are not sent
# to the server. The rest is the constant's text, byte for byte.
string(REGEX REPLACE "[^A-Za-z0-9]" "_" guard "DLOCK_GEN_${HEADER}_")
string(TOUPPER "${guard}" guard)
set(body "")
foreach(file ${FILES})
  file(READ "${file}" text)
  set(doc "")
  while(text MATCHES "^--[^\n]*\n")
    string(REGEX MATCH "^--[^\n]*\n" line "${text}")
    string(LENGTH "${line}" length)
    string(SUBSTRING "${text}" ${length} -1 text)
    string(REGEX REPLACE "^--" "//" line "${line}")
    string(APPEND doc "${line}")
  endwhile()
  string(FIND "${text}" ")lua\"" end)
  if(NOT end EQUAL -1)
    message(FATAL_ERROR "${file} holds )lua\", which would end its raw string literal")
  endif()
  get_filename_component(stem "${file}" NAME_WE)
  set(name "k")
  string(REPLACE "_" ";" words "${stem}")
  foreach(word ${words})
    string(SUBSTRING "${word}" 0 1 first)
    string(SUBSTRING "${word}" 1 -1 rest)
    string(TOUPPER "${first}" first)
    string(APPEND name "${first}${rest}")
  endforeach()
  get_filename_component(file_name "${file}" NAME)
  string(APPEND body "\n// ${file_name}:\n${doc}inline constexpr std::string_view ${name} = R\"lua(${text})lua\";\n")
endforeach()
file(WRITE "${OUT}" "// Generated from Lua files by cmake/EmbedLua.cmake at build time: do not edit.
#ifndef ${guard}
#define ${guard}

#include <string_view>

namespace ${NAMESPACE} {
${body}
}  // namespace ${NAMESPACE}

#endif  // ${guard}
")
