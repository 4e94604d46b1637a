# Turns a text file into a C++ function returning it, at build time (no xxd):
#   cmake -DINPUT=page.html -DOUTPUT=page.cpp -DFUNCTION=name -DHEADER=path/to/header.hpp -P embed_text.cmake
# The function is turnpike::server::FUNCTION() -> std::string_view, declared in HEADER.
# The text goes into one raw string literal; a file that contains its delimiter is an error.
foreach(var INPUT OUTPUT FUNCTION HEADER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_text.cmake: -D${var}=... is required")
  endif()
endforeach()
file(READ "${INPUT}" text)
set(delimiter "tp_embed")
string(FIND "${text}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "embed_text.cmake: ${INPUT} contains )${delimiter}\" and cannot be embedded")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by embed_text.cmake at build time: edit that file, not this one.\n"
  "#include \"${HEADER}\"\n\n"
  "namespace turnpike::server {\n\n"
  "std::string_view ${FUNCTION}() {\n"
  "  static constexpr char kText[] = R\"${delimiter}(${text})${delimiter}\";\n"
  "  return {kText, sizeof(kText) - 1};\n"
  "}\n\n"
  "}  // namespace turnpike::server\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
