# Turns INPUT into a C++ source defining NAME (a NUL-terminated char array)
# in namespace sigkit::embedded. Run with cmake -P at build time, so editing
# the page rebuilds the binary.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
string(REGEX REPLACE "(([^,]*,){16})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by cmake/embed.cmake; do not edit.
#include <cstddef>
#include <string_view>
namespace sigkit::embedded {
static const char ${NAME}_bytes[] = {\n${bytes}'\\0'};
extern const std::string_view ${NAME}{${NAME}_bytes, ${size}};
}  // namespace sigkit::embedded
")
