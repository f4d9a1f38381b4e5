# cmake -DDLOCK=BIN -DHELP2MAN=PATH -DGZIP=PATH -DINCLUDE=dlock.h2m -DOUTPUT=DIR/dlock.1
#       -P ManPage.cmake
# Writes the man page dlock(1), OUTPUT, and OUTPUT.gz (gzip -9n: no name or time stamp in
# it, as Debian policy asks), from the CLI's own help. help2man makes NAME, SYNOPSIS,
# DESCRIPTION and OPTIONS from `dlock --help`; this script adds COMMANDS, a subsection per
# subcommand that `dlock --help` lists, from `dlock SUB --help`; INCLUDE adds the rest
# (EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO).
foreach(var DLOCK HELP2MAN GZIP INCLUDE OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "ManPage.cmake: -D${var}= is missing")
  endif()
endforeach()
set(ENV{LC_ALL} C)

# The lines of `dlock [SUB] --help`, as a list. A CMake list splits at ';' and brackets
# nest in it: the text keeps neither until RestoreText().
function(HelpLines out)
  execute_process(COMMAND "${DLOCK}" ${ARGN} --help
    OUTPUT_VARIABLE text ERROR_VARIABLE error RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "ManPage.cmake: `dlock ${ARGN} --help` failed (${status}): ${error}")
  endif()
  string(REPLACE ";" "@semicolon@" text "${text}")
  string(REPLACE "[" "@lbracket@" text "${text}")
  string(REPLACE "]" "@rbracket@" text "${text}")
  string(REPLACE "\n" ";" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

function(RestoreText var)
  string(REPLACE "@semicolon@" ";" text "${${var}}")
  string(REPLACE "@lbracket@" "[" text "${text}")
  string(REPLACE "@rbracket@" "]" text "${text}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

# Help text as roff: backslashes and dashes escaped, and no line that starts a request.
function(Roff out text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REPLACE "-" "\\-" text "${text}")
  if(text MATCHES "^[.']")
    set(text "\\&${text}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The tag of an option or positional: "--ttl TEXT=30s" -> "\fB\-\-ttl\fR TEXT=30s";
# "-h,--help" -> both names bold; "name TEXT REQUIRED" -> the name in italics.
function(RoffTag out tag)
  string(REGEX MATCH "^[^ ]+" names "${tag}")
  string(LENGTH "${names}" length)
  string(SUBSTRING "${tag}" ${length} -1 rest)
  Roff(names "${names}")
  Roff(rest "${rest}")
  if(names MATCHES "^\\\\-")
    string(REPLACE "," "\\fR,\\fB" names "${names}")
    set(${out} "\\fB${names}\\fR${rest}" PARENT_SCOPE)
  else()
    set(${out} "\\fI${names}\\fR${rest}" PARENT_SCOPE)
  endif()
endfunction()

# The subsection of one subcommand. CLI11's help: the description, "Usage: dlock SUB ...",
# then headings ("Positionals:", "Options:") over items "  TAG  TEXT" (the text on the
# next lines, indented, when the tag is long).
function(CommandSection out sub)
  HelpLines(lines ${sub})
  set(roff ".SS \"dlock ${sub}\"\n")
  foreach(line IN LISTS lines)
    if(line MATCHES "^Usage: dlock ${sub}(.*)$")
      Roff(rest "${CMAKE_MATCH_1}")
      string(APPEND roff ".PP\nUsage: \\fBdlock ${sub}\\fR${rest}\n")
    elseif(line MATCHES "^([A-Za-z][A-Za-z ]*):$")
      string(APPEND roff ".PP\n${CMAKE_MATCH_1}:\n")
    elseif(line MATCHES "^  ([^ ]+( [^ ]+)*)(  +(.*))?$")
      set(text "${CMAKE_MATCH_4}")
      RoffTag(tag "${CMAKE_MATCH_1}")
      string(APPEND roff ".TP\n${tag}\n")
      if(NOT text STREQUAL "")
        Roff(text "${text}")
        string(APPEND roff "${text}\n")
      endif()
    elseif(line MATCHES "^ +(.+)$")  # the text of the item above, continued
      Roff(text "${CMAKE_MATCH_1}")
      string(APPEND roff "${text}\n")
    elseif(NOT line STREQUAL "")  # the description
      Roff(text "${line}")
      string(APPEND roff "${text}\n")
    endif()
  endforeach()
  if(NOT roff MATCHES "\n\\.TP\n")
    message(FATAL_ERROR "ManPage.cmake: no options found in `dlock ${sub} --help`")
  endif()
  set(${out} "${roff}" PARENT_SCOPE)
endfunction()

# The subcommands: the names under "Subcommands:" in `dlock --help`.
HelpLines(lines)
set(subcommands "")
set(in_list FALSE)
foreach(line IN LISTS lines)
  if(line MATCHES "^Subcommands:$")
    set(in_list TRUE)
  elseif(line MATCHES "^[^ ]")
    set(in_list FALSE)
  elseif(in_list AND line MATCHES "^  ([a-z][a-z0-9_-]*)( |$)")
    list(APPEND subcommands ${CMAKE_MATCH_1})
  endif()
endforeach()
if(subcommands STREQUAL "")
  message(FATAL_ERROR "ManPage.cmake: no subcommands found in `dlock --help`")
endif()

set(commands "[COMMANDS]\n")
string(APPEND commands "Each command's options, from \\fBdlock\\fR \\fICOMMAND\\fR ")
string(APPEND commands "\\fB\\-\\-help\\fR. The options above (global options) come before ")
string(APPEND commands "the command, or after it.\n")
foreach(sub IN LISTS subcommands)
  CommandSection(section ${sub})
  string(APPEND commands "${section}")
endforeach()
RestoreText(commands)
get_filename_component(dir "${OUTPUT}" DIRECTORY)
set(commands_file "${dir}/dlock-commands.h2m")
file(WRITE "${commands_file}" "${commands}")

execute_process(
  COMMAND "${HELP2MAN}" --no-info --section=1
    "--name=run commands under distributed locks; take, extend, release and inspect them"
    "--include=${commands_file}" "--include=${INCLUDE}" "--output=${OUTPUT}" "${DLOCK}"
  RESULT_VARIABLE status ERROR_VARIABLE error)
if(NOT status EQUAL 0 OR NOT error STREQUAL "")
  file(REMOVE "${OUTPUT}")
  message(FATAL_ERROR "ManPage.cmake: help2man failed (${status}): ${error}")
endif()
execute_process(COMMAND "${GZIP}" -9 -n -c "${OUTPUT}" OUTPUT_FILE "${OUTPUT}.gz"
  RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  file(REMOVE "${OUTPUT}.gz")
  message(FATAL_ERROR "ManPage.cmake: gzip failed (${status})")
endif()
